"""Early-stopping rules, registered by name: ``beta``, ``window``, ``unanimous``, ``plateau``, ``diverged``.

Rules combine: sampling stops at the first that fires (:func:`decide`), never before the
strategy's minimum number of samples. N max, the deadline, the token cap and the reserved budget
are enforced by the strategies themselves; :class:`StopReason` is the vocabulary every strategy
uses to say why it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from router.errors import UnknownComponent
from router.stopping.base import SamplingState, StopDecision, StoppingRule, StopReason
from router.stopping.beta import majority_stays_probability, regularized_incomplete_beta
from router.stopping.decide import decide, first_firing
from router.stopping.replay import replay
from router.stopping.rules import BetaRule, DivergedRule, PlateauRule, UnanimousRule, WindowRule

__all__ = [
    "STOPPING_RULES",
    "BetaRule",
    "DivergedRule",
    "PlateauRule",
    "SamplingState",
    "StopDecision",
    "StopReason",
    "StoppingRule",
    "UnanimousRule",
    "WindowRule",
    "build_rule",
    "decide",
    "first_firing",
    "majority_stays_probability",
    "regularized_incomplete_beta",
    "replay",
]

STOPPING_RULES: dict[str, Callable[..., StoppingRule]] = {
    "beta": BetaRule,
    "window": WindowRule,
    "unanimous": UnanimousRule,
    "plateau": PlateauRule,
    "diverged": DivergedRule,
}


def build_rule(name: str, params: Mapping[str, float | int] | None = None) -> StoppingRule:
    """A stopping rule by name. An unknown name raises :class:`~router.errors.UnknownComponent`
    (a ``KeyError``) listing the known names; bad parameters raise ``ValueError``."""
    try:
        factory = STOPPING_RULES[name]
    except KeyError:
        raise UnknownComponent("stopping rule", name, list(STOPPING_RULES)) from None
    try:
        return factory(**dict(params or {}))
    except TypeError as exc:
        raise ValueError(f"{name}: bad parameters {dict(params or {})}: {exc}") from None
