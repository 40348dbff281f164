"""Replay a sequence of answers through stopping rules exactly as ``best_of_n`` draws them.

Used by the early-stopping benchmark (recorded samples) and by property tests (synthetic votes).
"""

from __future__ import annotations

from collections.abc import Sequence

from router.stopping.base import SamplingState, StoppingRule, StopReason
from router.stopping.decide import decide

__all__ = ["replay"]


def replay(
    rules: Sequence[StoppingRule],
    answers: Sequence[str | None],
    *,
    wave_size: int = 1,
    n_max: int | None = None,
    min_samples: int = 1,
    scores: Sequence[float | None] | None = None,
) -> tuple[int, StopReason]:
    """Samples used and why sampling stopped, drawing ``wave_size`` answers at a time up to ``n_max``
    (default: all of ``answers``); the best score per wave comes from ``scores`` when given."""
    if wave_size < 1:
        raise ValueError("wave_size must be >= 1")
    cap = min(len(answers), n_max if n_max is not None else len(answers))
    used, best_by_wave = 0, []
    while used < cap:
        used = min(cap, used + wave_size)
        if scores is not None:
            known = [s for s in scores[:used] if s is not None]
            best_by_wave.append(max(known) if known else 0.0)
        state = SamplingState(
            tuple(answers[:used]),
            tuple(scores[:used]) if scores is not None else (),
            tuple(best_by_wave),
            n_max=cap,
            min_samples=min_samples,
        )
        decision = decide(rules, state)
        if decision is not None:
            return used, decision.reason
    return used, StopReason.N_MAX
