"""Load a policy file and report every problem with its path in the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.errors import PolicyError
from router.policy.schema import Policy

__all__ = ["format_validation_errors", "load_policy", "parse_policy"]

_UNION_TAGS = {
    "local", "openai_compatible", "litellm",
    "single_pass", "chain_of_draft", "bounded_reasoning", "best_of_n", "revision", "beam_search",
}  # fmt: skip


def _format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        # Discriminated unions add the tag as a path element right after the entry's name.
        if i == 2 and loc[0] in ("backends", "strategies") and item in _UNION_TAGS:
            continue
        parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(root)"


def _format_error(error: Any) -> str:
    path = _format_loc(tuple(error["loc"]))
    kind = error["type"]
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        section = "strategy" if str(error["loc"][0]) == "strategies" else "backend"
        return f"{path}.type: unknown {section} type {ctx.get('tag')!r} (expected one of: {ctx.get('expected_tags')})"
    if kind == "extra_forbidden":
        return f"{path}: unknown field"
    if kind == "missing":
        return f"{path}: field required"
    return f"{path}: {error['msg']}"


def format_validation_errors(exc: ValidationError) -> list[str]:
    """One ``path: message`` line per validation error."""
    return [_format_error(e) for e in exc.errors()]


def parse_policy(data: object, *, source: str = "<policy>") -> Policy:
    """Validate already-parsed YAML data; raise :class:`PolicyError` listing every problem."""
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: a policy must be a mapping at the top level")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        errors = format_validation_errors(exc)
        raise PolicyError(f"{source}: invalid policy\n" + "\n".join(errors), errors) from None
    errors = policy.check_references() + _check_components(policy)
    if errors:
        raise PolicyError(f"{source}: invalid policy\n" + "\n".join(errors), errors)
    return policy


def _check_components(policy: Policy) -> list[str]:
    """Names of verifiers and stopping rules must exist in their registries."""
    from router.policy.components import check_component_names

    return check_component_names(policy)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a YAML policy file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise PolicyError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return _with_profiles_file(parse_policy(data, source=str(path)), path)


def _with_profiles_file(policy: Policy, path: Path) -> Policy:
    """Merge the entries of ``profiles_file`` (resolved relative to the policy file) into ``profiles``."""
    if policy.profiles_file is None:
        return policy
    from router.calibration.profiles import merge_profiles_file

    return merge_profiles_file(policy, path.parent / policy.profiles_file, source=str(path))
