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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from router.planner.candidates import Candidate, expand_candidates, params_key
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
        return _interpolate(sorted(curve.points), difficulty)
    points = [
        (BUCKET_CENTRES["easy"], curve.easy or 0.0),
        (BUCKET_CENTRES["medium"], curve.medium or 0.0),
        (BUCKET_CENTRES["hard"], curve.hard or 0.0),
    ]
    return _interpolate(points, difficulty)


def _interpolate(points: list[tuple[float, float]], difficulty: float) -> float:
    if difficulty <= points[0][0]:
        return points[0][1]
    for (d0, q0), (d1, q1) in itertools.pairwise(points):
        if difficulty <= d1:
            t = 0.0 if d1 == d0 else (difficulty - d0) / (d1 - d0)
            return q0 + t * (q1 - q0)
    return points[-1][1]


def _prior_points(strategy_type: str) -> list[tuple[float, float]]:
    easy, medium, hard = _PRIORS.get(strategy_type, _PRIORS["single_pass"])
    return [(BUCKET_CENTRES["easy"], easy), (BUCKET_CENTRES["medium"], medium), (BUCKET_CENTRES["hard"], hard)]


def _compute_bonus(candidate: Candidate) -> float:
    scale = {"n": 4, "thinking_budget": 256, "rounds": 2, "beam_width": 2, "draft_tokens": 64}
    bonus = 0.0
    for name, reference in scale.items():
        value = candidate.params.get(name)
        if isinstance(value, int | float) and value > 0:
            bonus += 0.03 * math.log2(value / reference)
    return bonus


def prior_quality(candidate: Candidate, difficulty: float) -> float:
    """The uncalibrated prior: the strategy type's bucket values, nudged up by more compute."""
    base = _interpolate(_prior_points(candidate.strategy_type), difficulty)
    return min(0.99, max(0.0, base + _compute_bonus(candidate) * (1.0 - base)))


@dataclass(frozen=True)
class _Static:
    """Everything about a candidate's prediction that does not depend on the request."""

    points: list[tuple[float, float]]
    prior_bonus: float | None
    mean_tokens: float
    p95_tokens: float
    latency_p50: float | None
    latency_p95: float | None
    speed: SpeedModel
    price: Price
    source: str


class Predictor:
    """Predictions for candidates of one policy; per-candidate constants are computed once."""

    def __init__(self, policy: Policy, price_lookup: Callable[[str], Price | None] | None = None) -> None:
        self._policy = policy
        self._profiles: dict[str, ProfileEntry] = {f"{p.strategy}{params_key(p.params)}": p for p in policy.profiles}
        self._price_lookup = price_lookup
        self._static: dict[tuple[str, int], _Static] = {}
        self._candidates: dict[tuple[tuple[str, ...], int], list[Candidate]] = {}

    def candidates(self, strategies: Sequence[str], answer_tokens: int) -> list[Candidate]:
        """The route's candidates, expanded once per (strategies, answer cap)."""
        key = (tuple(strategies), answer_tokens)
        found = self._candidates.get(key)
        if found is None:
            if len(self._candidates) > 4096:
                self._candidates.clear()
            found = self._candidates[key] = expand_candidates(self._policy, strategies, answer_tokens)
        return found

    def profile(self, candidate: Candidate) -> ProfileEntry | None:
        return self._profiles.get(candidate.key)

    def _price(self, backend: str) -> Price:
        config = self._policy.backends[backend]
        if config.price is not None:
            return config.price
        looked_up = self._price_lookup(backend) if self._price_lookup else None
        return looked_up or Price()

    def _static_for(self, candidate: Candidate) -> _Static:
        key = (candidate.key, candidate.shape.token_cap)
        static = self._static.get(key)
        if static is not None:
            return static
        profile = self.profile(candidate)
        cap = candidate.shape.token_cap
        mean, p95 = candidate.shape.expected_fraction * cap, float(cap)
        if profile is not None and profile.completion_tokens_mean is not None:
            mean = min(profile.completion_tokens_mean, cap)
            p95 = min(profile.completion_tokens_p95 or cap, cap)
        if profile is not None:
            curve = profile.quality
            points = sorted(curve.points) if curve.points else [
                (BUCKET_CENTRES["easy"], curve.easy or 0.0),
                (BUCKET_CENTRES["medium"], curve.medium or 0.0),
                (BUCKET_CENTRES["hard"], curve.hard or 0.0),
            ]  # fmt: skip
            bonus, source = None, "profile"
        else:
            points, bonus, source = _prior_points(candidate.strategy_type), _compute_bonus(candidate), "prior"
        static = _Static(
            points, bonus, mean, p95,
            profile.latency_ms_p50 if profile else None, profile.latency_ms_p95 if profile else None,
            self._policy.backends[candidate.backend].speed, self._price(candidate.backend), source,
        )  # fmt: skip
        self._static[key] = static
        return static

    def predict(self, candidate: Candidate, difficulty: float, prompt_tokens: int) -> Prediction:
        static = self._static_for(candidate)
        shape = candidate.shape
        quality = _interpolate(static.points, difficulty)
        if static.prior_bonus is not None:
            quality = min(0.99, max(0.0, quality + static.prior_bonus * (1.0 - quality)))
        rounds, per_round = shape.rounds, shape.sequences_per_round
        p50 = static.latency_p50
        if p50 is None:
            p50 = self._latency_ms(static.speed, rounds, per_round, prompt_tokens, static.mean_tokens / shape.sequences)
        p95 = static.latency_p95
        if p95 is None:
            p95 = self._latency_ms(static.speed, rounds, per_round, prompt_tokens, static.p95_tokens / shape.sequences)
        p95 = max(p95, p50)
        prompt_total = shape.calls * prompt_tokens
        cost = self._cost(static.price, prompt_total, static.mean_tokens, p50)
        worst = self._cost(static.price, prompt_total, shape.token_cap, p95)
        if shape.judge_calls:  # grading calls are charged like any other: expected and worst case
            judge_price = self._price(shape.judge_backend or candidate.backend)
            judge_prompt = shape.judge_prompt_tokens(prompt_tokens)
            expected_prompt = judge_prompt - shape.judge_calls * (
                shape.per_sequence_cap - static.mean_tokens / shape.sequences
            )
            cost += self._cost(judge_price, expected_prompt, shape.judge_completion_tokens, 0.0)
            worst += self._cost(judge_price, judge_prompt, shape.judge_completion_tokens, 0.0)
        return Prediction(quality, p50, p95, cost, worst, static.mean_tokens, static.source)

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
