"""Stopping rules on synthetic vote sequences with known answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.errors import UnknownComponent
from router.stopping import STOPPING_RULES, SamplingState, build_rule, first_firing, majority_stays_probability


def _state(answers: list[str | None], best: list[float] | None = None) -> SamplingState:
    return SamplingState(tuple(answers), best_by_wave=tuple(best or []))


def test_beta_probability_matches_the_closed_form() -> None:
    assert majority_stays_probability(0, 0) == pytest.approx(0.5)
    assert majority_stays_probability(1, 0) == pytest.approx(0.75)
    assert majority_stays_probability(4, 0) == pytest.approx(1 - 1 / 32)
    assert majority_stays_probability(5, 1) == pytest.approx(0.9375)
    assert majority_stays_probability(3, 3) == pytest.approx(0.5)


def test_beta_stops_on_a_clear_majority_only() -> None:
    rule = build_rule("beta", {"confidence": 0.95})
    assert rule.should_stop(_state(["7"] * 5))
    assert not rule.should_stop(_state(["7", "7", "8", "8", "7"]))
    assert not rule.should_stop(_state([None] * 8))


def test_window_and_plateau() -> None:
    window = build_rule("window", {"size": 3})
    assert window.should_stop(_state(["1", "2", "2", "2"]))
    assert not window.should_stop(_state(["2", "2", "1"]))
    plateau = build_rule("plateau", {"epsilon": 0.05, "waves": 1})
    assert plateau.should_stop(_state(["a"], [0.8, 0.82]))
    assert not plateau.should_stop(_state(["a"], [0.5, 0.8]))


def test_bad_rules_are_errors() -> None:
    with pytest.raises(UnknownComponent, match="unknown stopping rule 'vibes'") as unknown:
        build_rule("vibes")
    assert unknown.value.known == sorted(STOPPING_RULES)
    with pytest.raises(ValueError, match="confidence"):
        build_rule("beta", {"confidence": 1.5})
    with pytest.raises(ValueError, match="bad parameters"):
        build_rule("window", {"length": 3})


answers = st.lists(st.sampled_from(["1", "2", "3", None]), min_size=1, max_size=16)


@settings(max_examples=200, deadline=None)
@given(seq=answers)
def test_unanimous_windows_always_stop_and_split_votes_never_stop_beta(seq: list[str | None]) -> None:
    rules = [build_rule("beta", {"confidence": 0.95}), build_rule("window", {"size": 4})]
    unanimous = ["5"] * 4
    assert first_firing(rules, _state([*seq, *unanimous])) is not None
    split = ["1", "2"] * (len(seq) // 2 + 1)
    assert not build_rule("beta", {"confidence": 0.95}).should_stop(_state(split))


def test_diverged_fires_only_when_no_answer_leads_after_enough_samples() -> None:
    rule = build_rule("diverged", {"after": 3, "max_votes": 1})
    assert rule.should_stop(SamplingState(("1", "2"))) is None  # too few samples yet
    decision = rule.should_stop(SamplingState(("1", "2", "3")))
    assert decision is not None and decision.reason == "diverged"
    assert rule.should_stop(SamplingState(("1", "2", "1"))) is None  # an answer is emerging
    assert rule.should_stop(SamplingState((None, None, None))) is not None  # nothing extractable at all
    wider = build_rule("diverged", {"after": 6, "max_votes": 2})
    assert wider.should_stop(SamplingState(("1", "1", "2", "2", "3", "4"))) is not None
    assert wider.should_stop(SamplingState(("1", "1", "1", "2", "3", "4"))) is None


@pytest.mark.parametrize("params", [{"after": 1}, {"after": 3, "max_votes": 2}, {"max_votes": 0}])
def test_diverged_rejects_parameters_that_would_stop_on_a_majority(params: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="diverged"):
        build_rule("diverged", params)
