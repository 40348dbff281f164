"""The stopping-rule interface, the state it reads, and the stop-reason vocabulary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

__all__ = ["SamplingState", "StopDecision", "StopReason", "StoppingRule"]


class StopReason(StrEnum):
    """Why a strategy stopped; the values are what ``x-thinkroute-stop-reason`` and metrics show."""

    N_MAX = "n_max"  # drew every sample the plan allowed
    BETA = "beta"  # Adaptive-Consistency: the majority is settled
    WINDOW = "window"  # ESC: a window of consecutive samples agreed
    PLATEAU = "plateau"  # the best verifier score stopped improving
    UNANIMOUS = "unanimous"  # every sample so far agreed
    DIVERGED = "diverged"  # the samples scatter: no consensus is emerging
    DEADLINE = "deadline"  # the plan's deadline passed (anytime answer)
    TOKEN_CAP = "token_cap"  # the next wave would pass the token cap
    BUDGET = "budget"  # the next wave would pass the reserved budget
    CANCELLED = "cancelled"  # the client went away
    SINGLE = "single"  # a one-shot strategy: nothing to stop
    FINAL_ANSWER = "final_answer"  # step-wise search reached a final answer
    STEP_CAP = "step_cap"  # step-wise search hit its step limit


@dataclass(frozen=True)
class StopDecision:
    """A rule's verdict to stop now, with a short human-readable why."""

    reason: StopReason
    detail: str = ""


@dataclass(frozen=True)
class SamplingState:
    """What a sampling strategy has seen so far.

    ``answers``: each sample's answer-class label in draw order (``None``: no answer, no vote).
    ``scores``: verifier scores aligned with ``answers`` (``None`` when vote-only).
    ``best_by_wave``: the best score seen after each wave. ``n_max`` and ``min_samples``: the
    plan's sample cap and the number of samples before any rule may stop.
    """

    answers: tuple[str | None, ...]
    scores: tuple[float | None, ...] = ()
    best_by_wave: tuple[float, ...] = ()
    n_max: int = 16
    min_samples: int = 1
    counts: Counter[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", Counter(a for a in self.answers if a is not None))

    @property
    def samples(self) -> int:
        """Samples drawn so far (answered or not)."""
        return len(self.answers)

    def top_two(self) -> tuple[int, int]:
        """Vote counts of the leading answer and the runner-up (0 when absent)."""
        common = self.counts.most_common(2)
        first = common[0][1] if common else 0
        second = common[1][1] if len(common) > 1 else 0
        return first, second


class StoppingRule(Protocol):
    """Decides, after each wave, whether more samples would still pay. Rules are stateless."""

    name: str

    def should_stop(self, state: SamplingState) -> StopDecision | None:
        """A decision to stop now, or ``None`` to keep sampling."""
        ...
