"""A policy's ``profiles_file``: merged on load, every problem named with its file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from router.calibration.profiles import data_fingerprint, read_profiles_file, write_profiles_file
from router.errors import PolicyError
from router.policy import load_policy
from router.policy.schema import ProfileEntry, QualityCurve
from tests.router.calibration.helpers import POLICY


def _policy(tmp_path: Path, profiles_file: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({**POLICY, "profiles_file": profiles_file}))
    return path


def test_written_profiles_read_back_with_their_source(tmp_path: Path) -> None:
    entry = ProfileEntry(strategy="vote", params={"n": 4}, quality=QualityCurve(points=[(0.0, 0.9), (1.0, 0.2)]),
                         completion_tokens_mean=40.0, samples=12)  # fmt: skip
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "x", "reference": "1"}\n')
    sha = data_fingerprint([data])
    write_profiles_file(tmp_path / "p.yaml", [entry], data_sha256=sha, extra={"route": "auto"})
    assert read_profiles_file(tmp_path / "p.yaml") == [entry]
    source = yaml.safe_load((tmp_path / "p.yaml").read_text())["source"]
    assert source["data_sha256"] == sha and len(sha) == 64 and source["route"] == "auto" and "date" in source
    data.write_text('{"prompt": "y", "reference": "1"}\n')
    assert data_fingerprint([data]) != sha


def test_problems_in_the_profiles_file_are_policy_errors_naming_it(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read profiles file"):
        load_policy(_policy(tmp_path, "missing.yaml"))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"profiles": [{"strategy": "single", "quality": {"easy": 2}}]}))
    with pytest.raises(PolicyError) as info:
        load_policy(_policy(tmp_path, "bad.yaml"))
    assert "bad.yaml" in str(info.value) and info.value.errors[0].startswith("profiles[0].quality")
    (tmp_path / "unknown.yaml").write_text(yaml.safe_dump({"profiles": [
        {"strategy": "serch", "quality": {"easy": 0.5, "medium": 0.5, "hard": 0.5}}]}))  # fmt: skip
    with pytest.raises(PolicyError, match="unknown strategy 'serch'"):
        load_policy(_policy(tmp_path, "unknown.yaml"))
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(PolicyError, match="'profiles' list"):
        load_policy(_policy(tmp_path, "list.yaml"))
