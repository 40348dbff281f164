"""The stopping-rule interface and the state it reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["SamplingState", "StoppingRule"]


@dataclass(frozen=True)
class SamplingState:
    """What a sampling strategy has seen so far: answers in draw order, scores, best score per wave."""

    answers: tuple[str | None, ...]
    scores: tuple[float | None, ...] = ()
    best_by_wave: tuple[float, ...] = ()
    n_max: int = 16
    min_samples: int = 1
    counts: Counter[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", Counter(a for a in self.answers if a is not None))

    @property
    def samples(self) -> int:
        return len(self.answers)

    def top_two(self) -> tuple[int, int]:
        """Vote counts of the leading answer and the runner-up (0 when absent)."""
        common = self.counts.most_common(2)
        first = common[0][1] if common else 0
        second = common[1][1] if len(common) > 1 else 0
        return first, second


class StoppingRule(Protocol):
    """Decides, after each wave, whether more samples would still pay."""

    name: str

    def should_stop(self, state: SamplingState) -> bool:
        """True when sampling can stop now."""
        ...
