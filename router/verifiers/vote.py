"""vote: extract and normalise each candidate's answer; equal answers form one class (no scores)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.base import VerificationTask, VerifierResult

__all__ = ["VoteVerifier", "vote_shares"]


class VoteVerifier:
    """Self-consistency: answers only, the strategy counts the votes."""

    name = "vote"

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        answers = [normalise_answer(extract_answer(text)) for text in candidates]
        return VerifierResult(scores=[None] * len(answers), answers=answers)


def vote_shares(answers: Sequence[str | None]) -> dict[str, float]:
    """Each answer class's share of the votes cast (unanswered samples do not vote)."""
    counts = Counter(a for a in answers if a is not None)
    total = sum(counts.values())
    return {answer: count / total for answer, count in counts.most_common()} if total else {}
