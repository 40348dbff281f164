"""Properties of combining rules with ``decide``, and of the ``unanimous`` rule, on random votes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from router.stopping import SamplingState, StopReason, build_rule, decide

labels = st.sampled_from(["a", "b", "c", None])
agreeing_or_not = st.one_of(
    st.lists(labels, max_size=12),
    st.builds(lambda a, n: [a] * n, st.sampled_from(["a", "b", None]), st.integers(0, 12)),
)
eager = [build_rule("unanimous", {"min_agree": 1}), build_rule("window", {"size": 2}), build_rule("beta")]


@settings(max_examples=200, deadline=None)
@given(answers=agreeing_or_not, short=st.integers(1, 8))
def test_decide_waits_for_min_samples_even_at_n_max(answers: list[str | None], short: int) -> None:
    state = SamplingState(tuple(answers), n_max=len(answers), min_samples=len(answers) + short)
    assert decide(eager, state) is None


@settings(max_examples=200, deadline=None)
@given(answers=agreeing_or_not.filter(bool), extra=st.integers(0, 4))
def test_decide_stops_at_n_max_when_no_rule_fires(answers: list[str | None], extra: int) -> None:
    never = build_rule("window", {"size": 13})  # longer than any sequence here
    state = SamplingState(tuple(answers), n_max=len(answers) - min(extra, len(answers) - 1), min_samples=1)
    decision = decide([never], state)
    assert decision is not None and decision.reason == StopReason.N_MAX


@settings(max_examples=300, deadline=None)
@given(answers=agreeing_or_not, min_agree=st.integers(1, 6))
def test_unanimous_fires_exactly_when_every_sample_agrees(answers: list[str | None], min_agree: int) -> None:
    agree = len(answers) >= min_agree and None not in answers and len(set(answers)) == 1
    decision = build_rule("unanimous", {"min_agree": min_agree}).should_stop(SamplingState(tuple(answers)))
    assert (decision is not None) == agree
    if decision is not None:
        assert decision.reason == StopReason.UNANIMOUS
