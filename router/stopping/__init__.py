"""Early-stopping rules, registered by name: ``beta``, ``window``, ``plateau``.

Rules combine: sampling stops at the first that fires. N max, the deadline, the token cap and
the reserved budget are enforced by the strategies themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from router.stopping.base import SamplingState, StoppingRule
from router.stopping.rules import BetaRule, PlateauRule, WindowRule, majority_stays_probability

__all__ = [
    "STOPPING_RULES",
    "BetaRule",
    "PlateauRule",
    "SamplingState",
    "StoppingRule",
    "WindowRule",
    "build_rule",
    "first_firing",
    "majority_stays_probability",
]

STOPPING_RULES: dict[str, Callable[..., StoppingRule]] = {
    "beta": BetaRule,
    "window": WindowRule,
    "plateau": PlateauRule,
}


def build_rule(name: str, params: Mapping[str, float | int] | None = None) -> StoppingRule:
    """A stopping rule by name; unknown names and bad parameters raise ``ValueError``."""
    try:
        factory = STOPPING_RULES[name]
    except KeyError:
        raise ValueError(f"unknown stopping rule {name!r} (known: {sorted(STOPPING_RULES)})") from None
    try:
        return factory(**dict(params or {}))
    except TypeError as exc:
        raise ValueError(f"{name}: bad parameters {dict(params or {})}: {exc}") from None


def first_firing(rules: Sequence[StoppingRule], state: SamplingState) -> str | None:
    """The name of the first rule that says stop, or ``None``."""
    return next((rule.name for rule in rules if rule.should_stop(state)), None)
