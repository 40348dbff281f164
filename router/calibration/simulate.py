"""Operating points: what a fixed candidate, or the planner at one quality bar, achieves on a set.

Since every candidate ran on every item, routing needs no new generation: for each item the
planner (with the calibrated profiles and the item's difficulty) picks a candidate, and that
candidate's recorded outcome on the item is what the router would have returned — the same calls
with the same seeds. Only ``min_quality`` constrains the sweep (no latency or cost SLO).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from router.calibration.datasets import EvalItem
from router.calibration.runner import Outcome, OutcomeTable
from router.planner import SLO, Predictor, plan
from router.planner.tokens import estimate_prompt_tokens
from router.policy.schema import Policy

__all__ = [
    "OperatingPoint",
    "cost_axis",
    "dominates",
    "fixed_point",
    "pareto_frontier",
    "route_choices",
    "route_point",
    "sweep",
]


@dataclass(frozen=True)
class OperatingPoint:
    """Accuracy and cost of one way of answering a set of items."""

    label: str
    accuracy: float
    mean_tokens: float  # completion tokens per request (every sample, thinking included)
    mean_total_tokens: float  # prompt + completion
    mean_cost_usd: float
    latency_p50_ms: float
    latency_p95_ms: float
    items: int
    min_quality: float | None = None
    choices: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label, "accuracy": round(self.accuracy, 4), "mean_tokens": round(self.mean_tokens, 2),
            "mean_total_tokens": round(self.mean_total_tokens, 2), "mean_cost_usd": self.mean_cost_usd,
            "latency_p50_ms": round(self.latency_p50_ms, 1), "latency_p95_ms": round(self.latency_p95_ms, 1),
            "items": self.items, "min_quality": self.min_quality, "choices": dict(self.choices),
        }  # fmt: skip


def _point(label: str, outcomes: Sequence[Outcome], **extra: object) -> OperatingPoint:
    if not outcomes:
        raise ValueError(f"{label}: no outcomes")
    latency = np.asarray([o.latency_ms for o in outcomes])
    return OperatingPoint(
        label,
        float(np.mean([o.correct for o in outcomes])),
        float(np.mean([o.completion_tokens for o in outcomes])),
        float(np.mean([o.total_tokens for o in outcomes])),
        float(np.mean([o.cost_usd for o in outcomes])),
        float(np.percentile(latency, 50)),
        float(np.percentile(latency, 95)),
        len(outcomes),
        **extra,  # type: ignore[arg-type]
    )


def fixed_point(
    table: OutcomeTable, candidate: str, item_ids: Sequence[str], label: str | None = None
) -> OperatingPoint:
    """Always ``candidate``."""
    return _point(label or candidate, table.for_candidate(candidate, item_ids))


def route_choices(
    policy: Policy,
    route: str,
    difficulty: Mapping[str, float],
    items: Sequence[EvalItem],
    min_quality: float,
    answer_tokens: int,
) -> dict[str, str]:
    """The candidate key the planner picks at ``min_quality`` for each item id (no latency or cost SLO)."""
    predictor = Predictor(policy)
    candidates = predictor.candidates(policy.routes[route].strategies, answer_tokens)
    out: dict[str, str] = {}
    for item in items:
        decision = plan(candidates, predictor, SLO(min_quality=min_quality), difficulty[item.id],
                        estimate_prompt_tokens(item.messages))  # fmt: skip
        assert decision.chosen is not None  # no latency or cost SLO: something is always eligible
        out[item.id] = decision.chosen.candidate.key
    return out


def route_point(
    policy: Policy,
    route: str,
    table: OutcomeTable,
    difficulty: Mapping[str, float],
    items: Sequence[EvalItem],
    min_quality: float,
    answer_tokens: int,
) -> OperatingPoint:
    """The planner at ``min_quality`` over ``items``, each answered by its chosen candidate's outcome."""
    chosen: list[Outcome] = []
    for item_id, key in route_choices(policy, route, difficulty, items, min_quality, answer_tokens).items():
        outcome = table.get(key, item_id)
        if outcome is None:
            raise KeyError(f"no outcome for {key} on {item_id}")
        chosen.append(outcome)
    choices = Counter(o.candidate for o in chosen)
    return _point(f"thinkroute q>={min_quality:g}", chosen, min_quality=min_quality, choices=dict(choices))


def sweep(
    policy: Policy,
    route: str,
    table: OutcomeTable,
    difficulty: Mapping[str, float],
    items: Sequence[EvalItem],
    qualities: Sequence[float],
    answer_tokens: int,
) -> list[OperatingPoint]:
    """:func:`route_point` at each quality bar."""
    return [route_point(policy, route, table, difficulty, items, q, answer_tokens) for q in qualities]


def cost_axis(points: Sequence[OperatingPoint]) -> tuple[str, Callable[[OperatingPoint], float]]:
    """USD when anything is priced, otherwise completion tokens: (axis label, getter)."""
    if any(p.mean_cost_usd > 0 for p in points):
        return "mean cost per request (USD)", lambda p: p.mean_cost_usd
    return "mean completion tokens per request", lambda p: p.mean_tokens


def dominates(a: OperatingPoint, b: OperatingPoint, cost: Callable[[OperatingPoint], float]) -> bool:
    """``a`` is at least as accurate and at most as costly as ``b``, and strictly better in one."""
    eps = 1e-12
    not_worse = a.accuracy >= b.accuracy - eps and cost(a) <= cost(b) + eps
    return not_worse and (a.accuracy > b.accuracy + eps or cost(a) < cost(b) - eps)


def pareto_frontier(points: Sequence[OperatingPoint], cost: Callable[[OperatingPoint], float]) -> list[OperatingPoint]:
    """Points no other point dominates, cheapest first."""
    front = [p for p in points if not any(dominates(q, p, cost) for q in points if q is not p)]
    return sorted(front, key=lambda p: (cost(p), -p.accuracy))
