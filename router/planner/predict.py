"""Predict a candidate's quality, latency and cost at a given difficulty.

Quality comes from the policy's measured profiles, interpolated by the classifier's scalar
difficulty (not only by bucket); a candidate without a profile falls back to a conservative
prior for its strategy type. Latency is prefill + tokens / decode speed per sequential round,
slowed when a round has more sequences than the backend decodes together. Cost is expected
tokens times price (LiteLLM's cost map for providers, the policy's price otherwise), plus
GPU-seconds where the policy prices them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from router.planner.candidates import Candidate, params_key
from router.policy.schema import Policy, Price, ProfileEntry, QualityCurve, SpeedModel

__all__ = ["BUCKET_CENTRES", "Prediction", "Predictor", "interpolate_quality", "prior_quality"]

BUCKET_CENTRES = {"easy": 0.15, "medium": 0.5, "hard": 0.85}

# P(acceptable answer) by bucket before anything is measured: deliberately modest, ordered by compute.
_PRIORS: dict[str, tuple[float, float, float]] = {
    "single_pass": (0.90, 0.55, 0.25),
    "chain_of_draft": (0.90, 0.63, 0.33),
    "bounded_reasoning": (0.91, 0.68, 0.40),
    "best_of_n": (0.92, 0.70, 0.42),
    "revision": (0.91, 0.66, 0.38),
    "beam_search": (0.92, 0.72, 0.46),
}


@dataclass(frozen=True)
class Prediction:
    """What the planner expects of one candidate for one request."""

    quality: float
    latency_ms_p50: float
    latency_ms_p95: float
    cost_usd: float
    worst_cost_usd: float
    expected_tokens: float
    quality_source: str


def interpolate_quality(curve: QualityCurve, difficulty: float) -> float:
    """Piecewise-linear in difficulty through the curve's points (bucket centres when given by bucket)."""
    if curve.points:
        points = sorted(curve.points)
    else:
        points = [
            (BUCKET_CENTRES["easy"], curve.easy or 0.0),
            (BUCKET_CENTRES["medium"], curve.medium or 0.0),
            (BUCKET_CENTRES["hard"], curve.hard or 0.0),
        ]
    if difficulty <= points[0][0]:
        return points[0][1]
    for (d0, q0), (d1, q1) in itertools.pairwise(points):
        if difficulty <= d1:
            t = 0.0 if d1 == d0 else (difficulty - d0) / (d1 - d0)
            return q0 + t * (q1 - q0)
    return points[-1][1]


def prior_quality(candidate: Candidate, difficulty: float) -> float:
    """The uncalibrated prior: the strategy type's bucket values, nudged up by more compute."""
    easy, medium, hard = _PRIORS.get(candidate.strategy_type, _PRIORS["single_pass"])
    base = interpolate_quality(QualityCurve(easy=easy, medium=medium, hard=hard), difficulty)
    scale = {"n": 4, "thinking_budget": 256, "rounds": 2, "beam_width": 2, "draft_tokens": 64}
    bonus = 0.0
    for name, reference in scale.items():
        value = candidate.params.get(name)
        if isinstance(value, int | float) and value > 0:
            bonus += 0.03 * math.log2(value / reference)
    return min(0.99, max(0.0, base + bonus * (1.0 - base)))


class Predictor:
    """Predictions for candidates of one policy; profiles are indexed once."""

    def __init__(self, policy: Policy, price_lookup: Callable[[str], Price | None] | None = None) -> None:
        self._policy = policy
        self._profiles: dict[str, ProfileEntry] = {
            f"{p.strategy}{params_key(p.params)}": p for p in policy.profiles
        }
        self._price_lookup = price_lookup

    def profile(self, candidate: Candidate) -> ProfileEntry | None:
        return self._profiles.get(candidate.key)

    def _price(self, backend: str) -> Price:
        config = self._policy.backends[backend]
        if config.price is not None:
            return config.price
        looked_up = self._price_lookup(backend) if self._price_lookup else None
        return looked_up or Price()

    def predict(self, candidate: Candidate, difficulty: float, prompt_tokens: int) -> Prediction:
        profile = self.profile(candidate)
        shape = candidate.shape
        if profile is not None:
            quality, source = interpolate_quality(profile.quality, difficulty), "profile"
        else:
            quality, source = prior_quality(candidate, difficulty), "prior"
        cap = shape.token_cap
        mean_tokens = shape.expected_fraction * cap
        p95_tokens = float(cap)
        if profile is not None and profile.completion_tokens_mean is not None:
            mean_tokens = min(profile.completion_tokens_mean, cap)
            p95_tokens = min(profile.completion_tokens_p95 or cap, cap)
        speed = self._policy.backends[candidate.backend].speed
        rounds, per_round = shape.rounds, shape.sequences_per_round
        p50 = self._latency_ms(speed, rounds, per_round, prompt_tokens, mean_tokens / shape.sequences)
        p95 = self._latency_ms(speed, rounds, per_round, prompt_tokens, p95_tokens / shape.sequences)
        if profile is not None and profile.latency_ms_p50 is not None:
            p50 = profile.latency_ms_p50
        if profile is not None and profile.latency_ms_p95 is not None:
            p95 = max(profile.latency_ms_p95, p50)
        price = self._price(candidate.backend)
        cost = self._cost(price, shape.calls * prompt_tokens, mean_tokens, p50)
        worst = self._cost(price, shape.calls * prompt_tokens, cap, p95)
        return Prediction(quality, p50, p95, cost, worst, mean_tokens, source)

    @staticmethod
    def _latency_ms(speed: SpeedModel, rounds: int, per_round: int, prompt_tokens: int, tokens_per_seq: float) -> float:
        slowdown = math.ceil(per_round / speed.parallel_sequences)
        prefill = 1000.0 * prompt_tokens / speed.prefill_tokens_per_s
        decode_per_round = 1000.0 * slowdown * tokens_per_seq / speed.decode_tokens_per_s
        return speed.overhead_ms + rounds * (prefill + decode_per_round)

    @staticmethod
    def _cost(price: Price, prompt_tokens: float, completion_tokens: float, latency_ms: float) -> float:
        tokens = prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok
        return tokens / 1e6 + price.gpu_second_usd * latency_ms / 1000.0

