"""``thinkroute policy check|schema`` and ``thinkroute explain``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from router.cli import app
from router.cli.policy import policy_json_schema

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def test_committed_schema_is_current() -> None:
    committed = json.loads((REPO / "policies" / "schema.json").read_text())
    assert committed == json.loads(json.dumps(policy_json_schema())), "run `thinkroute policy schema`"


def test_every_example_policy_passes_check() -> None:
    files = sorted(str(p) for p in (REPO / "policies").glob("*.yaml"))
    assert len(files) >= 1
    result = runner.invoke(app, ["policy", "check", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok (") == len(files)


def test_check_prints_each_error_with_its_path_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "backends: {local: {type: local}}\n"
        "strategies: {single: {type: single_pass, backend: locale}}\n"
        "routes: {auto: {strategies: [single, serch]}}\n"
    )
    result = runner.invoke(app, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: strategies.single.backend: unknown backend 'locale'" in result.output
    assert f"{bad}: routes.auto.strategies[1]: unknown strategy 'serch'" in result.output


def test_schema_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = runner.invoke(app, ["policy", "schema", "--output", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text())["title"] == "thinkroute policy"


def _policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        "backends: {local: {type: local, speed: {decode_tokens_per_s: 10, prefill_tokens_per_s: 500}}}\n"
        "strategies:\n"
        "  single: {type: single_pass, backend: local, max_tokens: 32}\n"
        "  think: {type: bounded_reasoning, backend: local, max_tokens: 32, thinking_budgets: [256]}\n"
        "routes: {auto: {strategies: [single, think]}}\n"
        "classifier: {enabled: false}\n"
    )
    return path


def test_explain_json_and_exit_codes(tmp_path: Path) -> None:
    policy = _policy_file(tmp_path)
    result = runner.invoke(app, ["explain", "What is 2+2?", "--policy", str(policy), "--min-quality", "0.6", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["chosen"]["strategy"] == "think"
    assert set(payload) >= {"difficulty", "candidates", "chosen", "rule"}
    result = runner.invoke(app, ["explain", "What is 2+2?", "--policy", str(policy), "--latency-ms", "1", "--json"])
    assert result.exit_code == 3
    assert json.loads(result.output)["rule"] == "slo_unsatisfiable"


def test_explain_table_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["explain", "Hello", "--policy", str(_policy_file(tmp_path))])
    assert result.exit_code == 0
    assert "rule:" in result.output and "single" in result.output
