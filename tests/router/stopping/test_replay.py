"""Properties of replaying random vote sequences through the stopping rules, wave by wave."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from router.stopping import StoppingRule, StopReason, build_rule, replay

labels = st.sampled_from(["a", "b", "c", None])
votes = st.lists(labels, min_size=1, max_size=40)
rules = st.lists(
    st.one_of(
        st.builds(lambda c: build_rule("beta", {"confidence": c}), st.floats(0.51, 0.99)),
        st.builds(lambda s: build_rule("window", {"size": s}), st.integers(2, 6)),
        st.builds(lambda m: build_rule("unanimous", {"min_agree": m}), st.integers(1, 5)),
        st.builds(lambda e, w: build_rule("plateau", {"epsilon": e, "waves": w}), st.floats(0, 0.2), st.integers(1, 3)),
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(
    chosen=rules,
    answers=votes,
    wave_size=st.integers(1, 8),
    n_max=st.integers(1, 40),
    min_samples=st.integers(1, 12),
    data=st.data(),
)
def test_replay_stays_within_n_max_and_never_stops_before_min_samples(
    chosen: list[StoppingRule],
    answers: list[str | None],
    wave_size: int,
    n_max: int,
    min_samples: int,
    data: st.DataObject,
) -> None:
    scores = data.draw(st.none() | st.lists(st.floats(0, 1), min_size=len(answers), max_size=len(answers)))
    used, reason = replay(chosen, answers, wave_size=wave_size, n_max=n_max, min_samples=min_samples, scores=scores)
    cap = min(n_max, len(answers))
    assert 1 <= used <= cap
    assert used % wave_size == 0 or used == cap  # stops only at the end of a wave
    if reason == StopReason.N_MAX:
        assert used == cap
    else:
        assert used >= min_samples  # a rule fired: never before the minimum
    assert used >= min(min_samples, cap)  # only an N max below the minimum stops sooner


@settings(max_examples=300, deadline=None)
@given(
    waves_before=st.integers(0, 4),
    wave_size=st.integers(2, 8),
    window=st.integers(2, 8),
    answer=st.sampled_from(["a", "b", "c"]),
    others=rules,
    data=st.data(),
)
def test_a_unanimous_wave_stops_sampling(
    waves_before: int, wave_size: int, window: int, answer: str, others: list[StoppingRule], data: st.DataObject
) -> None:
    window = min(window, wave_size)
    before = waves_before * wave_size
    prefix = data.draw(st.lists(labels, min_size=before, max_size=before))
    tail = data.draw(st.lists(labels, max_size=16))
    end = before + wave_size
    min_samples = data.draw(st.integers(1, end))
    chosen = [*others, build_rule("window", {"size": window})]
    used, reason = replay(chosen, [*prefix, *[answer] * wave_size, *tail], wave_size=wave_size, min_samples=min_samples)
    assert used <= end and reason != StopReason.N_MAX


def _unanimous(answers: list[str | None]) -> bool:
    return bool(answers) and None not in answers and len(set(answers)) == 1


agreeing_or_not = st.one_of(
    st.lists(labels, max_size=12),
    st.builds(lambda a, n: [a] * n, st.sampled_from(["a", "b"]), st.integers(0, 12)),
)


@settings(max_examples=300, deadline=None)
@given(answers=agreeing_or_not, wave_size=st.integers(1, 5), min_agree=st.integers(1, 6), min_samples=st.integers(1, 6))
def test_replay_with_the_unanimous_rule_stops_at_the_first_agreeing_wave_or_draws_everything(
    answers: list[str | None], wave_size: int, min_agree: int, min_samples: int
) -> None:
    if not answers:
        answers = [None]
    expected = (len(answers), StopReason.N_MAX)
    for end in [*range(wave_size, len(answers), wave_size), len(answers)]:
        if end >= max(min_agree, min_samples) and _unanimous(answers[:end]):
            expected = (end, StopReason.UNANIMOUS)
            break
    rule = build_rule("unanimous", {"min_agree": min_agree})
    assert replay([rule], answers, wave_size=wave_size, min_samples=min_samples) == expected
