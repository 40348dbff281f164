"""Early-stopping rules for sampling strategies.

- ``beta`` (Adaptive-Consistency, Aggarwal et al. 2023): stop when the chance that the leading
  answer is the true majority, P(p > 1/2) with p ~ Beta(v1 + 1, v2 + 1) from the top-two vote
  counts, reaches ``confidence``.
- ``window`` (Early-Stopping Self-Consistency, Li et al. 2024): stop when the last ``size``
  samples all give the same answer.
- ``unanimous``: stop when every sample so far gave the same answer and there are at least ``min_agree``.
- ``plateau``: stop when the best verifier score gained less than ``epsilon`` over the last ``waves`` waves.
- ``diverged``: the mirror of ``beta``: stop when, after at least ``after`` samples, no answer has
  more than ``max_votes`` votes. Samples that scatter this widely rarely converge on a majority
  (measured in ``benchmarks/early_stopping.py``), so more of them buy no accuracy.
"""

from __future__ import annotations

from router.stopping.base import SamplingState, StopDecision, StopReason
from router.stopping.beta import majority_stays_probability

__all__ = ["BetaRule", "DivergedRule", "PlateauRule", "UnanimousRule", "WindowRule"]


def _whole(value: float, name: str, minimum: int) -> int:
    if float(value) != int(value) or int(value) < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value}")
    return int(value)


class BetaRule:
    """Adaptive-Consistency's Beta stopping criterion."""

    name = "beta"

    def __init__(self, confidence: float = 0.95) -> None:
        if not 0.5 < confidence < 1.0:
            raise ValueError(f"beta: confidence must be in (0.5, 1), got {confidence}")
        self.confidence = float(confidence)

    def should_stop(self, state: SamplingState) -> StopDecision | None:
        v1, v2 = state.top_two()
        if v1 == 0:
            return None
        probability = majority_stays_probability(v1, v2)
        if probability < self.confidence:
            return None
        return StopDecision(StopReason.BETA, f"P(majority stays)={probability:.3f} with votes {v1}:{v2}")


class WindowRule:
    """ESC: a whole window of consecutive samples agrees."""

    name = "window"

    def __init__(self, size: int = 4) -> None:
        self.size = _whole(size, "window: size", 2)

    def should_stop(self, state: SamplingState) -> StopDecision | None:
        if state.samples < self.size:
            return None
        window = state.answers[-self.size :]
        if window[0] is None or any(a != window[0] for a in window):
            return None
        return StopDecision(StopReason.WINDOW, f"the last {self.size} samples agree")


class UnanimousRule:
    """Every sample so far gave the same answer."""

    name = "unanimous"

    def __init__(self, min_agree: int = 3) -> None:
        self.min_agree = _whole(min_agree, "unanimous: min_agree", 1)

    def should_stop(self, state: SamplingState) -> StopDecision | None:
        if state.samples < self.min_agree or len(state.counts) != 1 or state.counts.total() != state.samples:
            return None
        return StopDecision(StopReason.UNANIMOUS, f"all {state.samples} samples agree")


class PlateauRule:
    """The best verifier score stopped improving."""

    name = "plateau"

    def __init__(self, epsilon: float = 0.01, waves: int = 1) -> None:
        if not epsilon >= 0:
            raise ValueError(f"plateau: epsilon must be >= 0, got {epsilon}")
        self.epsilon = float(epsilon)
        self.waves = _whole(waves, "plateau: waves", 1)

    def should_stop(self, state: SamplingState) -> StopDecision | None:
        history = state.best_by_wave
        if len(history) <= self.waves:
            return None
        gain = history[-1] - history[-1 - self.waves]
        if gain >= self.epsilon:
            return None
        return StopDecision(StopReason.PLATEAU, f"best score gained {gain:.3f} over {self.waves} wave(s)")


class DivergedRule:
    """No consensus is emerging: after ``after`` samples, the leading answer has at most ``max_votes`` votes."""

    name = "diverged"

    def __init__(self, after: int = 3, max_votes: int = 1) -> None:
        self.after = _whole(after, "diverged: after", 2)
        self.max_votes = _whole(max_votes, "diverged: max_votes", 1)
        if self.max_votes * 2 > self.after:
            raise ValueError(f"diverged: max_votes ({self.max_votes}) must be at most half of after ({self.after})")

    def should_stop(self, state: SamplingState) -> StopDecision | None:
        if state.samples < self.after:
            return None
        leader, _ = state.top_two()
        if leader > self.max_votes:
            return None
        return StopDecision(StopReason.DIVERGED, f"no answer has more than {leader} of {state.samples} votes")
