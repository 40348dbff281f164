"""Early-stopping rules for sampling strategies.

- ``beta`` (Adaptive-Consistency, Aggarwal et al. 2023): with ``v1`` votes for the leading answer
  and ``v2`` for the runner-up, the leader's share among the two has a Beta(v1+1, v2+1) posterior;
  stop when P(share > 1/2) >= ``confidence``. For integer parameters this is an exact binomial sum.
- ``window`` (Early-Stopping Self-Consistency, Li et al. 2024): stop when the last ``size`` samples
  all give the same answer.
- ``plateau``: stop when the best verifier score has not improved by ``epsilon`` over ``waves`` waves.
"""

from __future__ import annotations

from math import comb

from router.stopping.base import SamplingState

__all__ = ["BetaRule", "PlateauRule", "WindowRule", "majority_stays_probability"]


def majority_stays_probability(v1: int, v2: int) -> float:
    """P(p > 1/2) for p ~ Beta(v1 + 1, v2 + 1): the chance the current leader is the true majority."""
    n = v1 + v2 + 1
    return float(sum(comb(n, j) for j in range(v1 + 1)) / 2**n)


class BetaRule:
    """Adaptive-Consistency's Beta stopping criterion."""

    name = "beta"

    def __init__(self, confidence: float = 0.95) -> None:
        if not 0.5 < confidence < 1.0:
            raise ValueError("beta: confidence must be in (0.5, 1)")
        self.confidence = confidence

    def should_stop(self, state: SamplingState) -> bool:
        v1, v2 = state.top_two()
        return v1 > 0 and majority_stays_probability(v1, v2) >= self.confidence


class WindowRule:
    """ESC: a whole window of consecutive samples agrees."""

    name = "window"

    def __init__(self, size: int = 4) -> None:
        if size < 2:
            raise ValueError("window: size must be at least 2")
        self.size = int(size)

    def should_stop(self, state: SamplingState) -> bool:
        if state.samples < self.size:
            return False
        window = state.answers[-self.size :]
        return window[0] is not None and all(a == window[0] for a in window)


class PlateauRule:
    """The best verifier score stopped improving."""

    name = "plateau"

    def __init__(self, epsilon: float = 0.01, waves: int = 1) -> None:
        if epsilon < 0 or waves < 1:
            raise ValueError("plateau: epsilon must be >= 0 and waves >= 1")
        self.epsilon = epsilon
        self.waves = int(waves)

    def should_stop(self, state: SamplingState) -> bool:
        history = state.best_by_wave
        if len(history) <= self.waves:
            return False
        return history[-1] - history[-1 - self.waves] < self.epsilon
