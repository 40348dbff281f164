"""Combine stopping rules: stop at the first that fires, never before the minimum, always at N max."""

from __future__ import annotations

from collections.abc import Sequence

from router.stopping.base import SamplingState, StopDecision, StoppingRule, StopReason

__all__ = ["decide", "first_firing"]


def decide(rules: Sequence[StoppingRule], state: SamplingState) -> StopDecision | None:
    """The first rule's decision to stop, in order; ``None`` before ``min_samples`` samples;
    an ``n_max`` decision once the plan's sample cap is reached and no rule fired."""
    if state.samples < state.min_samples:
        return None
    for rule in rules:
        decision = rule.should_stop(state)
        if decision is not None:
            return decision
    if state.samples >= state.n_max:
        return StopDecision(StopReason.N_MAX, f"drew all {state.n_max} samples")
    return None


def first_firing(rules: Sequence[StoppingRule], state: SamplingState) -> StopReason | None:
    """Why to stop now (a ``str`` enum value such as ``"beta"``), or ``None`` to keep sampling."""
    decision = decide(rules, state)
    return None if decision is None else decision.reason
