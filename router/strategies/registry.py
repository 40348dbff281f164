"""Strategies by policy ``type``. An unknown type is rejected when the policy loads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from router.strategies.base import Strategy
from router.strategies.beam_search import BeamSearch
from router.strategies.best_of_n import BestOfN
from router.strategies.bounded_reasoning import BoundedReasoning
from router.strategies.chain_of_draft import ChainOfDraft
from router.strategies.revision import Revision
from router.strategies.single_pass import SinglePass

__all__ = ["STRATEGIES", "build_strategy"]

STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "single_pass": SinglePass,
    "chain_of_draft": ChainOfDraft,
    "bounded_reasoning": BoundedReasoning,
    "best_of_n": BestOfN,
    "revision": Revision,
    "beam_search": BeamSearch,
}


def build_strategy(config: Any) -> Strategy:
    """The strategy implementation for a policy strategy entry."""
    try:
        factory = STRATEGIES[config.type]
    except KeyError:
        raise KeyError(f"strategy type {config.type!r} is not implemented (known: {sorted(STRATEGIES)})") from None
    return factory()
