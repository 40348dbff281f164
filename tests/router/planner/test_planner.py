"""The decision rule, table-driven and as properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.errors import SLOUnsatisfiable
from router.planner import SLO, Predictor, expand_candidates, plan
from router.planner.predict import interpolate_quality
from router.policy import Policy
from router.policy.schema import QualityCurve


def _decide(policy: Policy, slo: SLO, difficulty: float, strategies: list[str] | None = None):  # type: ignore[no-untyped-def]
    candidates = expand_candidates(policy, strategies or list(policy.routes["auto"].strategies), 256)
    return plan(candidates, Predictor(policy), slo, difficulty, prompt_tokens=200)


@pytest.mark.parametrize(
    ("slo", "difficulty", "strategy", "params", "rule"),
    [
        # easy prompt, modest bar: single pass is cheapest and good enough
        (SLO(min_quality=0.9), 0.1, "single", {}, "cheapest_meeting_quality"),
        # hard prompt, high bar, loose SLO: the big thinking budget is the only one reaching it
        (SLO(min_quality=0.7), 0.9, "think", {"thinking_budget": 1024}, "cheapest_meeting_quality"),
        # medium prompt: the smaller budget suffices and is cheaper than the bigger one
        (SLO(min_quality=0.78), 0.5, "think", {"thinking_budget": 256}, "cheapest_meeting_quality"),
        # tight latency: only single pass fits, even though it misses the bar
        (SLO(min_quality=0.9, latency_ms=2500), 0.9, "single", {}, "best_quality_within_slo"),
        # a cost cap that excludes the thinking candidates
        (SLO(min_quality=0.99, max_cost_usd=0.0012), 0.5, "draft", {"draft_tokens": 64}, "best_quality_within_slo"),
        # unreachable bar, loose SLO: the best quality available
        (SLO(min_quality=0.99), 0.9, "think", {"thinking_budget": 1024}, "best_quality_within_slo"),
    ],
)
def test_decision_table(
    planner_policy: Policy, slo: SLO, difficulty: float, strategy: str, params: dict[str, int], rule: str
) -> None:
    decision = _decide(planner_policy, slo, difficulty)
    assert decision.chosen is not None
    assert (decision.chosen.candidate.strategy, dict(decision.chosen.candidate.params)) == (strategy, params)
    assert decision.rule == rule


@pytest.mark.parametrize(
    ("slo", "difficulty", "strategy", "params", "rule"),
    [
        # hard prompt, high bar, loose SLO: only the larger best-of-N search reaches the bar
        (SLO(min_quality=0.8, latency_ms=60000), 0.9, "vote", {"n": 8}, "cheapest_meeting_quality"),
        # the same bar under a latency cap its second wave misses: the one-wave search, best within the SLO
        (SLO(min_quality=0.8, latency_ms=4000), 0.9, "vote", {"n": 4}, "best_quality_within_slo"),
        # medium prompt: four samples suffice and beat both thinking budgets on cost
        (SLO(min_quality=0.83), 0.5, "vote", {"n": 4}, "cheapest_meeting_quality"),
        # easy prompt: no search needed
        (SLO(min_quality=0.9, latency_ms=60000), 0.1, "single", {}, "cheapest_meeting_quality"),
    ],
)
def test_search_route_decision_table(
    planner_policy: Policy, slo: SLO, difficulty: float, strategy: str, params: dict[str, int], rule: str
) -> None:
    decision = _decide(planner_policy, slo, difficulty, list(planner_policy.routes["search"].strategies))
    assert decision.chosen is not None
    assert decision.chosen.candidate.strategy_type == ("best_of_n" if strategy == "vote" else "single_pass")
    assert (decision.chosen.candidate.strategy, dict(decision.chosen.candidate.params)) == (strategy, params)
    assert decision.rule == rule


def test_impossible_slo_is_rejected_with_the_closest_candidate(planner_policy: Policy) -> None:
    with pytest.raises(SLOUnsatisfiable) as info:
        _decide(planner_policy, SLO(latency_ms=10), 0.5)
    assert info.value.status_code == 422 and info.value.code == "slo_unsatisfiable"
    assert "closest: single" in info.value.message
    decision = info.value.details["decision"]
    assert decision["chosen"] is None and decision["rule"] == "slo_unsatisfiable"  # type: ignore[index]
    assert all(not c["eligible"] and c["why_not"] for c in decision["candidates"])  # type: ignore[index]


def test_explanation_lists_every_candidate_with_reasons(planner_policy: Policy) -> None:
    decision = _decide(planner_policy, SLO(min_quality=0.8, latency_ms=2500), 0.5)
    payload = decision.to_json()
    assert set(payload) >= {"difficulty", "candidates", "chosen", "rule"}
    assert [c["strategy"] for c in payload["candidates"]] == ["single", "draft", "think", "think"]
    assert set(payload["chosen"]) == {"strategy", "params", "predicted_quality", "predicted_latency_ms",
                                      "predicted_cost_usd"}  # fmt: skip
    ineligible = [c for c in payload["candidates"] if not c["eligible"]]
    assert ineligible and all("p95 latency" in c["why_not"][0] for c in ineligible)


def test_quality_is_interpolated_by_difficulty_not_only_bucket() -> None:
    curve = QualityCurve(easy=0.9, medium=0.6, hard=0.3)
    assert interpolate_quality(curve, 0.15) == pytest.approx(0.9)
    assert interpolate_quality(curve, 0.325) == pytest.approx(0.75)
    assert interpolate_quality(curve, 0.0) == pytest.approx(0.9)
    assert interpolate_quality(curve, 1.0) == pytest.approx(0.3)


def test_budget_left_excludes_plans_whose_worst_case_does_not_fit(planner_policy: Policy) -> None:
    candidates = expand_candidates(planner_policy, ["single", "think"], 256)
    decision = plan(candidates, Predictor(planner_policy), SLO(min_quality=0.7), 0.9, 200, budget_left_usd=0.0015)
    assert decision.chosen is not None and decision.chosen.candidate.strategy == "single"
    assert any("remaining budget" in r for a in decision.assessments for r in a.reasons)


slos = st.builds(
    SLO,
    latency_ms=st.none() | st.floats(min_value=100, max_value=60_000),
    max_cost_usd=st.none() | st.floats(min_value=0.0, max_value=0.02),
    min_quality=st.none() | st.floats(min_value=0.0, max_value=1.0),
)


@settings(max_examples=300, deadline=None)
@given(slo=slos, difficulty=st.floats(min_value=0.0, max_value=1.0))
def test_choice_never_violates_its_slo_and_is_cheapest_meeting_the_bar(
    planner_policy: Policy, slo: SLO, difficulty: float
) -> None:
    try:
        decision = _decide(planner_policy, slo, difficulty)
    except SLOUnsatisfiable as exc:
        decision_json = exc.details["decision"]
        assert not any(c["eligible"] for c in decision_json["candidates"])  # type: ignore[index]
        return
    chosen = decision.chosen
    assert chosen is not None and chosen.eligible
    p = chosen.prediction
    assert slo.latency_ms is None or p.latency_ms_p95 <= slo.latency_ms
    assert slo.max_cost_usd is None or p.cost_usd <= slo.max_cost_usd
    eligible = [a for a in decision.assessments if a.eligible]
    meeting = [a for a in eligible if a.meets_quality]
    if meeting:
        assert chosen.meets_quality
        assert p.cost_usd == min(a.prediction.cost_usd for a in meeting)
    else:
        assert p.quality == max(a.prediction.quality for a in eligible)


@settings(max_examples=50, deadline=None)
@given(slo=slos, difficulty=st.floats(min_value=0.0, max_value=1.0))
def test_decisions_are_deterministic(planner_policy: Policy, slo: SLO, difficulty: float) -> None:
    first = _decide_or_none(planner_policy, slo, difficulty)
    assert first == _decide_or_none(planner_policy, slo, difficulty)


def _decide_or_none(policy: Policy, slo: SLO, difficulty: float) -> str | None:
    try:
        decision = _decide(policy, slo, difficulty)
    except SLOUnsatisfiable:
        return None
    assert decision.chosen is not None
    return decision.chosen.candidate.key
