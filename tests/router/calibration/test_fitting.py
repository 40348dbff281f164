"""Quality curves follow the data; operating points, the planner sweep and Pareto dominance."""

from __future__ import annotations

import itertools
import random

import pytest

from router.calibration.datasets import EvalItem
from router.calibration.fitting import fit_profile, fit_quality_curve
from router.calibration.runner import Outcome, OutcomeTable
from router.calibration.simulate import (
    OperatingPoint,
    dominates,
    fixed_point,
    pareto_frontier,
    route_choices,
    route_point,
)
from router.planner import Predictor
from router.planner.predict import interpolate_quality
from router.policy import parse_policy
from tests.router.calibration.helpers import POLICY


def _falling(n: int = 200, seed: int = 1) -> tuple[list[float], list[bool]]:
    """Items get harder with difficulty: P(correct) = 0.95 - 0.8 d."""
    rng = random.Random(seed)
    x = [rng.random() for _ in range(n)]
    return x, [rng.random() < 0.95 - 0.8 * d for d in x]


@pytest.mark.parametrize("method", ["logistic", "isotonic"])
def test_fitted_quality_falls_with_difficulty_and_stays_in_range(method: str) -> None:
    x, y = _falling()
    curve = fit_quality_curve(x, y, method)  # type: ignore[arg-type]
    assert curve.points is not None and len(curve.points) == 21
    values = [q for _, q in curve.points]
    assert all(0.0 <= q <= 1.0 for q in values)
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(values))
    assert interpolate_quality(curve, 0.1) - interpolate_quality(curve, 0.9) > 0.45  # truth: 0.87 vs 0.23
    assert interpolate_quality(curve, 0.5) == pytest.approx(0.55, abs=0.12)


def test_one_class_only_gives_a_flat_smoothed_curve() -> None:
    curve = fit_quality_curve([0.1, 0.5, 0.9], [True, True, True])
    assert curve.points is not None and [q for _, q in curve.points] == [pytest.approx(3.5 / 4, abs=1e-4)] * 21
    with pytest.raises(ValueError):
        fit_quality_curve([], [])


def _outcome(item: str, candidate: str, correct: bool, tokens: int, latency: float) -> Outcome:
    return Outcome(item, candidate, correct, 10, tokens, 0, tokens * 1e-6, latency, 1, "single", "r")


def test_profiles_carry_token_and_latency_distributions() -> None:
    policy = parse_policy(POLICY)
    candidate = Predictor(policy).candidates(["single"], 16)[0]
    outcomes = [_outcome(f"i{k}", "single", k % 2 == 0, 10 + k, 100.0 + 10 * k) for k in range(20)]
    profile = fit_profile(candidate, outcomes, {f"i{k}": k / 20 for k in range(20)}, source="data sha256:ab 2026")
    assert profile.strategy == "single" and profile.params == {} and profile.samples == 20
    assert profile.completion_tokens_mean == pytest.approx(19.5)
    assert profile.latency_ms_p50 == pytest.approx(195.0) and profile.latency_ms_p95 == pytest.approx(280.5)
    assert profile.source == "data sha256:ab 2026"


def _world() -> tuple[OutcomeTable, list[EvalItem], dict[str, float]]:
    """single is right on easy items only; vote[n=4] on all; difficulty 0.1 (easy) or 0.9 (hard)."""
    from router.backends.base import ChatMessage

    items = [EvalItem(f"i{k}", (ChatMessage("user", "q"),), ("1",), "numeric", "t") for k in range(10)]
    difficulty = {f"i{k}": 0.1 if k < 5 else 0.9 for k in range(10)}
    table = OutcomeTable()
    for k in range(10):
        table.add(_outcome(f"i{k}", "single", k < 5, 5, 100.0))
        for key in ("think[thinking_budget=16]", "think[thinking_budget=32]", "vote[n=2]"):
            table.add(_outcome(f"i{k}", key, k < 5, 30, 300.0))
        table.add(_outcome(f"i{k}", "vote[n=4]", True, 40, 400.0))
    return table, items, difficulty


def test_the_router_sends_easy_items_to_the_cheap_candidate_and_dominates() -> None:
    table, items, difficulty = _world()
    profiles = [
        {"strategy": "single", "quality": {"points": [[0.0, 0.97], [0.3, 0.95], [0.7, 0.1], [1.0, 0.05]]},
         "completion_tokens_mean": 5},
        {"strategy": "think", "params": {"thinking_budget": 16}, "quality": {"easy": 0.9, "medium": 0.5, "hard": 0.1},
         "completion_tokens_mean": 30},
        {"strategy": "think", "params": {"thinking_budget": 32}, "quality": {"easy": 0.9, "medium": 0.5, "hard": 0.1},
         "completion_tokens_mean": 30},
        {"strategy": "vote", "params": {"n": 2}, "quality": {"easy": 0.9, "medium": 0.5, "hard": 0.1},
         "completion_tokens_mean": 30},
        {"strategy": "vote", "params": {"n": 4}, "quality": {"easy": 0.97, "medium": 0.97, "hard": 0.97},
         "completion_tokens_mean": 40},
    ]  # fmt: skip
    policy = parse_policy({**POLICY, "profiles": profiles})
    ids = [i.id for i in items]
    routed = route_point(policy, "auto", table, difficulty, items, 0.9, 16)
    assert routed.choices == {"single": 5, "vote[n=4]": 5}
    per_item = route_choices(policy, "auto", difficulty, items, 0.9, 16)
    assert per_item == {i.id: "single" if difficulty[i.id] < 0.5 else "vote[n=4]" for i in items}
    assert routed.accuracy == 1.0 and routed.mean_tokens == pytest.approx(22.5)
    best = fixed_point(table, "vote[n=4]", ids)
    cheap = fixed_point(table, "single", ids)
    cost = lambda p: p.mean_cost_usd  # noqa: E731
    assert best.accuracy == 1.0 and cheap.accuracy == 0.5
    assert dominates(routed, best, cost) and not dominates(best, routed, cost)
    assert not dominates(routed, cheap, cost)  # cheaper than the router, though far less accurate
    front = pareto_frontier([cheap, best, routed, fixed_point(table, "vote[n=2]", ids)], cost)
    assert [p.label for p in front] == ["single", "thinkroute q>=0.9"]
    everything_cheap = route_point(policy, "auto", table, difficulty, items, 0.0, 16)
    assert everything_cheap.choices == {"single": 10}


def test_dominance_needs_a_strict_improvement() -> None:
    a = OperatingPoint("a", 0.5, 10, 20, 1.0, 1, 2, 10)
    assert not dominates(a, a, lambda p: p.mean_cost_usd)
    better = OperatingPoint("b", 0.5, 10, 20, 0.5, 1, 2, 10)
    assert dominates(better, a, lambda p: p.mean_cost_usd)


def test_a_narrow_band_of_difficulty_still_shows_its_slope_and_is_not_extrapolated() -> None:
    """Scores in [0, 0.2] only (a workload the classifier finds uniformly easy): right below 0.1, wrong above."""
    rng = random.Random(3)
    x = [rng.uniform(0.0, 0.2) for _ in range(40)]
    y = [d < 0.1 for d in x]
    curve = fit_quality_curve(x, y, "logistic")
    assert interpolate_quality(curve, 0.0) - interpolate_quality(curve, 0.2) > 0.6
    assert interpolate_quality(curve, 0.2) == pytest.approx(interpolate_quality(curve, 1.0))  # flat past the data
