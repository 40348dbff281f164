"""Worst-case reservations cover every call a plan may make, verifier (llm_judge) calls included."""

from __future__ import annotations

import copy

import pytest

from router.planner.candidates import JUDGE_MAX_TOKENS, JUDGE_RUBRIC_TOKENS, Candidate
from router.planner.predict import Predictor
from router.policy import parse_policy
from tests.router.planner.conftest import PLANNER_POLICY

PROMPT_TOKENS = 100


def _predictor(verifier: str, judge_price: dict[str, float] | None = None) -> Predictor:
    raw = copy.deepcopy(PLANNER_POLICY)
    raw["strategies"]["vote"]["verifier"] = verifier
    raw["strategies"]["refine"] = {"type": "revision", "backend": "hosted", "max_tokens": 256, "max_rounds": [2]}
    raw["routes"]["search"]["strategies"].append("refine")
    if judge_price is not None:
        raw["backends"]["judge"] = {**raw["backends"]["hosted"], "price": judge_price}
        raw["strategies"]["refine"]["judge_backend"] = "judge"
    return Predictor(parse_policy(raw))


def _candidate(predictor: Predictor, key: str) -> Candidate:
    return next(c for c in predictor.candidates(["single", "think", "vote", "refine"], 256) if c.key == key)


def test_best_of_n_with_a_judge_reserves_every_grading_call() -> None:
    voted, judged = _predictor("vote"), _predictor("llm_judge")
    plain = voted.predict(_candidate(voted, "vote[n=8]"), 0.5, PROMPT_TOKENS)
    graded_candidate = _candidate(judged, "vote[n=8]")
    graded = judged.predict(graded_candidate, 0.5, PROMPT_TOKENS)
    # 8 grades, each paying the question, one answer at its 256-token cap and the rubric, at $1/Mtok in and $4/Mtok out
    judge_usd = 8 * ((PROMPT_TOKENS + 256 + JUDGE_RUBRIC_TOKENS) * 1.0 + JUDGE_MAX_TOKENS * 4.0) / 1e6
    assert graded.worst_cost_usd == pytest.approx(plain.worst_cost_usd + judge_usd)
    assert graded.cost_usd > plain.cost_usd
    shape = graded_candidate.shape
    assert shape.worst_tokens(PROMPT_TOKENS) == (
        8 * 256 + shape.calls * PROMPT_TOKENS + 8 * (PROMPT_TOKENS + 256 + JUDGE_RUBRIC_TOKENS + JUDGE_MAX_TOKENS)
    )


def test_revision_charges_its_grades_at_the_judge_backends_price() -> None:
    cheap = _predictor("vote", judge_price={"input_per_mtok": 1.0, "output_per_mtok": 4.0})
    dear = _predictor("vote", judge_price={"input_per_mtok": 100.0, "output_per_mtok": 400.0})
    key = "refine[rounds=2]"
    cheap_worst = cheap.predict(_candidate(cheap, key), 0.5, PROMPT_TOKENS).worst_cost_usd
    dear_worst = dear.predict(_candidate(dear, key), 0.5, PROMPT_TOKENS).worst_cost_usd
    grades = 3  # the first version and one per round
    per_grade_cheap = ((PROMPT_TOKENS + 256 + JUDGE_RUBRIC_TOKENS) * 1.0 + JUDGE_MAX_TOKENS * 4.0) / 1e6
    assert dear_worst - cheap_worst == pytest.approx(grades * 99 * per_grade_cheap)


def test_strategies_without_a_judge_reserve_no_grades() -> None:
    predictor = _predictor("vote")
    for key in ("single", "think[thinking_budget=256]", "vote[n=4]"):
        assert _candidate(predictor, key).shape.judge_calls == 0
