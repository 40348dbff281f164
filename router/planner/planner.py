"""The SLO planner: the cheapest candidate that meets the quality bar within latency and cost.

Rule, in order:
1. eligible = candidates whose predicted p95 latency <= the latency SLO and predicted cost <= the
   cost SLO (and, when the budget may downgrade plans, whose worst case fits the remaining budget);
2. among eligible candidates reaching ``min_quality``: the cheapest ("cheapest_meeting_quality");
3. if none reaches it: the highest predicted quality ("best_quality_within_slo");
4. if nothing is eligible: reject with 422 ``slo_unsatisfiable`` naming the closest candidate.
"Cheapest" orders by predicted USD cost, then expected generated tokens (compute), then p95
latency, then policy order, so ties are deterministic even when a local model costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from router.errors import SLOUnsatisfiable
from router.planner.candidates import Candidate
from router.planner.predict import Prediction, Predictor
from router.planner.slo import SLO

__all__ = ["Assessment", "Decision", "plan"]


@dataclass(frozen=True)
class Assessment:
    """One candidate's prediction and whether (and why not) it was eligible."""

    candidate: Candidate
    prediction: Prediction
    eligible: bool
    reasons: tuple[str, ...]
    meets_quality: bool

    def to_json(self) -> dict[str, Any]:
        p = self.prediction
        return {
            "strategy": self.candidate.strategy,
            "type": self.candidate.strategy_type,
            "params": dict(self.candidate.params),
            "backend": self.candidate.backend,
            "predicted_quality": round(p.quality, 4),
            "predicted_latency_ms": round(p.latency_ms_p95, 2),
            "predicted_latency_ms_p50": round(p.latency_ms_p50, 2),
            "predicted_cost_usd": round(p.cost_usd, 8),
            "worst_case_cost_usd": round(p.worst_cost_usd, 8),
            "expected_tokens": round(p.expected_tokens, 1),
            "token_cap": self.candidate.shape.token_cap,
            "quality_source": p.quality_source,
            "eligible": self.eligible,
            "meets_quality": self.meets_quality,
            "why_not": list(self.reasons),
        }


@dataclass(frozen=True)
class Decision:
    """The chosen candidate (or ``None``), every assessment, and the rule that decided."""

    chosen: Assessment | None
    assessments: tuple[Assessment, ...]
    rule: str
    slo: SLO
    difficulty: float

    def to_json(self) -> dict[str, Any]:
        chosen = None
        if self.chosen is not None:
            p = self.chosen.prediction
            chosen = {
                "strategy": self.chosen.candidate.strategy,
                "params": dict(self.chosen.candidate.params),
                "predicted_quality": round(p.quality, 4),
                "predicted_latency_ms": round(p.latency_ms_p95, 2),
                "predicted_cost_usd": round(p.cost_usd, 8),
            }
        return {
            "difficulty": round(self.difficulty, 4),
            "slo": self.slo.as_dict(),
            "candidates": [a.to_json() for a in self.assessments],
            "chosen": chosen,
            "rule": self.rule,
        }


def _cost_key(a: Assessment) -> tuple[float, float, float, int]:
    p = a.prediction
    return (p.cost_usd, p.expected_tokens, p.latency_ms_p95, a.candidate.index)


def _assess(candidate: Candidate, prediction: Prediction, slo: SLO, budget_left: float | None) -> Assessment:
    reasons: list[str] = []
    if slo.latency_ms is not None and prediction.latency_ms_p95 > slo.latency_ms:
        reasons.append(f"p95 latency {prediction.latency_ms_p95:.0f} ms > SLO {slo.latency_ms:g} ms")
    if slo.max_cost_usd is not None and prediction.cost_usd > slo.max_cost_usd:
        reasons.append(f"cost ${prediction.cost_usd:.6f} > SLO ${slo.max_cost_usd:g}")
    if budget_left is not None and prediction.worst_cost_usd > budget_left:
        reasons.append(f"worst case ${prediction.worst_cost_usd:.6f} > remaining budget ${budget_left:.6f}")
    meets = slo.min_quality is None or prediction.quality >= slo.min_quality
    return Assessment(candidate, prediction, not reasons, tuple(reasons), meets)


def _violation(a: Assessment, slo: SLO) -> float:
    """How far outside the SLOs a candidate is, as a relative overshoot (for the 'closest' hint)."""
    p = a.prediction
    over = 0.0
    if slo.latency_ms is not None:
        over += max(0.0, p.latency_ms_p95 / slo.latency_ms - 1.0)
    if slo.max_cost_usd is not None:
        over += max(0.0, p.cost_usd / slo.max_cost_usd - 1.0) if slo.max_cost_usd > 0 else float(p.cost_usd > 0)
    return over


def plan(
    candidates: Sequence[Candidate],
    predictor: Predictor,
    slo: SLO,
    difficulty: float,
    prompt_tokens: int,
    *,
    budget_left_usd: float | None = None,
) -> Decision:
    """Choose a candidate; raise :class:`SLOUnsatisfiable` when none fits (``Decision`` in ``details``)."""
    assessments = tuple(
        _assess(c, predictor.predict(c, difficulty, prompt_tokens), slo, budget_left_usd) for c in candidates
    )
    eligible = [a for a in assessments if a.eligible]
    meeting = [a for a in eligible if a.meets_quality]
    if meeting:
        return Decision(min(meeting, key=_cost_key), assessments, "cheapest_meeting_quality", slo, difficulty)
    if eligible:
        best = min(eligible, key=lambda a: (-a.prediction.quality, *_cost_key(a)))
        return Decision(best, assessments, "best_quality_within_slo", slo, difficulty)
    decision = Decision(None, assessments, "slo_unsatisfiable", slo, difficulty)
    closest = min(assessments, key=lambda a: (_violation(a, slo), *_cost_key(a)))
    raise SLOUnsatisfiable(
        f"No strategy fits the SLO; closest: {closest.candidate.key} ({'; '.join(closest.reasons)}).",
        param="slo",
        details={"decision": decision.to_json(), "closest": closest.to_json()},
    )
