"""``calibrate`` end to end on a scripted backend: profiles, report, replay, resume, and the CLI."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from router.backends.scripted import ScriptedBackend
from router.calibration import CalibrationJob, calibrate, read_profiles_file
from router.cli import app
from router.planner import Predictor
from router.policy import load_policy
from tests.router.calibration.helpers import responder, scripted, write_world

KEYS = ["single", "think[thinking_budget=16]", "think[thinking_budget=32]", "vote[n=2]", "vote[n=4]"]


def _job(tmp_path: Path, policy: Path, data: Path, **changes: object) -> CalibrationJob:
    fields: dict[str, object] = {"policy": policy, "data": [f"jsonl:{data}"], "cache": tmp_path / "cache",
                                 "out": tmp_path / "profiles.yaml", "report": tmp_path / "report"}  # fmt: skip
    return CalibrationJob(**{**fields, **changes})  # type: ignore[arg-type]


async def test_calibrate_measures_every_candidate_and_writes_profiles_and_report(tmp_path: Path) -> None:
    policy, data = write_world(tmp_path)
    backend = scripted()
    result = await calibrate(_job(tmp_path, policy, data), backend_factories={"local": lambda n, c: backend})
    assert [c.key for c in result.candidates] == KEYS
    accuracy = {p.label: p.accuracy for p in result.fixed}
    # items are 'What is 3i + (i+1)?', i < 12: single right for 3i < 10, thinking for 3i < 20, sampling 3i < 30
    assert accuracy["single"] == pytest.approx(4 / 12)
    assert accuracy["think[thinking_budget=16]"] == pytest.approx(7 / 12)
    assert accuracy["vote[n=4]"] >= accuracy["vote[n=2]"] >= 7 / 12
    written = yaml.safe_load((tmp_path / "profiles.yaml").read_text())
    assert written["source"]["data_sha256"] == result.data_sha256 and written["source"]["items"] == 12
    profiles = read_profiles_file(tmp_path / "profiles.yaml")
    assert [p.strategy for p in profiles] == ["single", "think", "think", "vote", "vote"]
    assert profiles[0].quality.points is not None and profiles[0].samples == 12
    assert profiles[3].completion_tokens_mean is not None and profiles[3].completion_tokens_mean > 1
    assert profiles[0].source is not None and profiles[0].source.startswith(f"data sha256:{result.data_sha256[:16]}")
    for name in ("report.md", "accuracy_vs_cost.png", "quality_curves.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert "Pareto frontier" in (tmp_path / "report" / "report.md").read_text()
    low, high = result.router[0], result.router[-1]  # min_quality 0 → cheapest, 1 → the best predicted
    assert low.choices == {"single": 12} and high.accuracy >= low.accuracy


async def test_a_rerun_replays_every_call_and_gets_the_same_numbers(tmp_path: Path) -> None:
    policy, data = write_world(tmp_path)
    first = await calibrate(_job(tmp_path, policy, data), backend_factories={"local": lambda n, c: scripted()})
    fresh = scripted()
    second = await calibrate(_job(tmp_path, policy, data), backend_factories={"local": lambda n, c: fresh})
    assert fresh.calls == []
    assert [p.to_json() for p in second.fixed] == [p.to_json() for p in first.fixed]
    assert second.profiles == first.profiles


async def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    policy, data = write_world(tmp_path)
    slow = ScriptedBackend(responder, delay_s=0.01)
    task = asyncio.ensure_future(
        calibrate(_job(tmp_path, policy, data), backend_factories={"local": lambda n, c: slow})
    )
    while len(slow.calls) < 10:
        await asyncio.sleep(0.005)
    task.cancel()  # what Ctrl-C does to the running calibration
    with pytest.raises(asyncio.CancelledError):
        await task
    done_before = len(slow.calls)
    resumed = scripted()
    result = await calibrate(_job(tmp_path, policy, data), backend_factories={"local": lambda n, c: resumed})
    clean = scripted()
    await calibrate(_job(tmp_path / "clean", policy, data), backend_factories={"local": lambda n, c: clean})
    assert 0 < len(resumed.calls) < len(clean.calls)
    assert len(resumed.calls) >= len(clean.calls) - done_before  # at most the interrupted call is repeated
    assert len(result.table) == len(KEYS) * 12


async def test_a_policy_includes_the_profiles_file_relative_to_itself(tmp_path: Path) -> None:
    flat = {"easy": 0.1, "medium": 0.1, "hard": 0.1}
    inline = [{"strategy": "single", "quality": flat}, {"strategy": "vote", "params": {"n": 8}, "quality": flat}]
    policy, data = write_world(tmp_path / "w", policy_extra={"profiles": inline})
    await calibrate(_job(tmp_path, policy, data, out=tmp_path / "w" / "measured" / "p.yaml"),
                    backend_factories={"local": lambda n, c: scripted()})  # fmt: skip
    text = policy.read_text() + "profiles_file: measured/p.yaml\n"
    policy.write_text(text)
    loaded = load_policy(policy)
    keys = sorted(f"{p.strategy}{p.params}" for p in loaded.profiles)
    assert len(loaded.profiles) == 6 and "vote{'n': 8}" in keys  # the inline n=8 entry has no measured twin
    single = next(p for p in loaded.profiles if p.strategy == "single")
    assert single.quality.points is not None  # the measured entry replaced the inline one
    predictor = Predictor(loaded)
    candidate = predictor.candidates(["single"], 16)[0]
    assert predictor.predict(candidate, 0.5, 10).quality == pytest.approx(4 / 12, abs=1e-3)  # no classifier: 0.5


def test_the_cli_runs_end_to_end_on_recorded_calls_and_writes_profiles_and_report(tmp_path: Path) -> None:
    policy, data = write_world(tmp_path)
    first = asyncio.run(calibrate(_job(tmp_path, policy, data, report=None),
                                  backend_factories={"local": lambda n, c: scripted()}))  # fmt: skip
    args = ["calibrate", "--policy", str(policy), "--data", f"jsonl:{data}", "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "replayed.yaml"), "--report", str(tmp_path / "cli-report"), "--replay"]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert read_profiles_file(tmp_path / "replayed.yaml") == first.profiles
    assert "vote[n=4]" in result.output and "wrote 5 profiles for 12 items" in result.output
    report = (tmp_path / "cli-report" / "report.md").read_text()
    assert "## Candidates" in report and "| single | 33.3% |" in report and "thinkroute q>=1" in report
    for name in ("accuracy_vs_cost.png", "quality_curves.png"):
        assert (tmp_path / "cli-report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({name})" in report
    missing = CliRunner().invoke(app, [*args[:-3], "--cache", str(tmp_path / "empty"), "--out",
                                       str(tmp_path / "x.yaml"), "--replay"], env={"COLUMNS": "200"})  # fmt: skip
    assert missing.exit_code == 2 and "run without --replay" in missing.output


def test_the_cli_explains_itself_and_rejects_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["calibrate", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "--data" in shown.output and "--replay" in shown.output
    policy, data = write_world(tmp_path)
    base = ["calibrate", "--policy", str(policy), "--data", f"jsonl:{data}", "--out", str(tmp_path / "p.yaml")]
    assert runner.invoke(app, [*base, "--method", "spline"]).exit_code == 2
    assert runner.invoke(app, [*base, "--qualities", "0.5,2"]).exit_code == 2
    unknown = runner.invoke(app, [*base, "--route", "nope", "--replay", "--cache", str(tmp_path / "c")])
    assert unknown.exit_code == 1 and "unknown route" in unknown.output


def test_report_without_matplotlib_is_a_clear_error_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    policy, data = write_world(tmp_path)
    args = ["calibrate", "--policy", str(policy), "--data", f"jsonl:{data}", "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "p.yaml"), "--report", str(tmp_path / "report")]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a clean typer exit, not an ImportError traceback
    assert "needs matplotlib" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cache").exists() and not (tmp_path / "p.yaml").exists()  # failed before any model call
