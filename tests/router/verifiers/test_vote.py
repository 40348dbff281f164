"""vote: equal answers form one class; tallies count them, weighted by scores when given."""

from __future__ import annotations

import pytest

from router.backends.base import ChatMessage
from router.verifiers import VerificationTask, VerifierResult, VoteVerifier, tally, vote_shares

TASK = VerificationTask((ChatMessage("user", "What is 5 + 7?"),))


async def test_vote_groups_equal_answers() -> None:
    result = await VoteVerifier().score(TASK, ["#### 12", "the answer is 12.0", "13", "", "\\boxed{12}"])
    assert result.answers == ["12", "12", "13", None, "12"]
    assert result.scores == [None] * 5
    assert result.classes == [0, 0, 1, None, 0]
    assert result.usage.calls == 0


def test_shares_sum_to_one_and_skip_unanswered() -> None:
    assert vote_shares(["12", "12", "13", None, "12"]) == {"12": 0.75, "13": 0.25}
    assert vote_shares([None, None]) == {}


def test_weighted_vote_can_overturn_the_count() -> None:
    answers = ["7", "7", "8"]
    assert tally(answers).winner == "7"
    weighted = tally(answers, [0.1, 0.2, 0.9])
    assert weighted.winner == "8"
    assert weighted.counts == {"7": 2, "8": 1}
    assert weighted.shares["8"] == pytest.approx(0.9 / 1.2)
    assert weighted.members(answers) == [2]


def test_ties_go_to_the_class_seen_first() -> None:
    assert tally(["b", "a", "a", "b"]).winner == "b"
    assert tally([None]).winner is None


def test_result_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="scores"):
        VerifierResult(scores=[None], answers=["1", "2"])
