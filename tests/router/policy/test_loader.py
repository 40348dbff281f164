"""Policy files load, and every problem is reported with its path in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from router.errors import PolicyError
from router.policy import load_policy, parse_policy

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def _default() -> dict[str, object]:
    data = yaml.safe_load((POLICIES / "default.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_default_policy_loads() -> None:
    policy = load_policy(POLICIES / "default.yaml")
    assert "auto" in policy.routes
    assert policy.backends["local"].type == "local"


def test_unknown_strategy_reference_names_its_path() -> None:
    data = _default()
    data["routes"]["auto"]["strategies"] = ["single", "single", "serch"]  # type: ignore[index]
    with pytest.raises(PolicyError) as info:
        parse_policy(data)
    assert info.value.errors == ["routes.auto.strategies[2]: unknown strategy 'serch'"]


def test_every_error_is_listed_with_its_path() -> None:
    data = _default()
    data["strategies"]["single"]["max_tokens"] = 0  # type: ignore[index]
    data["strategies"]["single"]["colour"] = "blue"  # type: ignore[index]
    data["backends"]["local"]["type"] = "quantum"  # type: ignore[index]
    with pytest.raises(PolicyError) as info:
        parse_policy(data)
    assert "strategies.single.max_tokens: Input should be greater than or equal to 1" in info.value.errors
    assert "strategies.single.colour: unknown field" in info.value.errors
    assert any(e.startswith("backends.local.type: unknown backend type 'quantum'") for e in info.value.errors)


def test_unreadable_and_non_yaml_files_are_policy_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: [unclosed\n")
    with pytest.raises(PolicyError, match=r"not valid YAML \(line 2"):
        load_policy(broken)
