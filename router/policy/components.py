"""Check that the verifiers and stopping rules a policy names exist in their registries."""

from __future__ import annotations

from router.policy.schema import Policy

__all__ = ["check_component_names"]


def _registered(module: str, attribute: str) -> set[str] | None:
    try:
        registry = getattr(__import__(module, fromlist=[attribute]), attribute)
    except (ImportError, AttributeError):
        return None
    return set(registry)


def _check_rule_params(path: str, rule: str, params: dict[str, float | int]) -> list[str]:
    from router.stopping import build_rule

    try:
        build_rule(rule, params)
    except ValueError as exc:
        return [f"{path}: {exc}"]
    return []


def check_component_names(policy: Policy) -> list[str]:
    """``path: message`` lines for unavailable strategy types and unknown verifier or stopping-rule names."""
    verifiers = _registered("router.verifiers", "VERIFIERS")
    rules = _registered("router.stopping", "STOPPING_RULES")
    strategies = _registered("router.strategies", "STRATEGIES") or set()
    errors: list[str] = []
    for name, strategy in policy.strategies.items():
        if strategy.type not in strategies:
            errors.append(f"strategies.{name}.type: strategy type {strategy.type!r} is not available "
                          f"(available: {sorted(strategies)})")  # fmt: skip
        verifier = getattr(strategy, "verifier", None)
        if verifier is not None and verifiers is not None and verifier not in verifiers:
            errors.append(f"strategies.{name}.verifier: unknown verifier {verifier!r} (known: {sorted(verifiers)})")
        for i, rule in enumerate(getattr(strategy, "stopping", [])):
            if rules is not None and rule.rule not in rules:
                path = f"strategies.{name}.stopping[{i}].rule"
                errors.append(f"{path}: unknown stopping rule {rule.rule!r} (known: {sorted(rules)})")
            elif rules is not None:
                errors.extend(_check_rule_params(f"strategies.{name}.stopping[{i}].params", rule.rule, rule.params))
    return errors
