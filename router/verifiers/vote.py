"""vote: self-consistency. Each candidate's answer is extracted and normalised; equal answers form
one class. It gives no scores; :func:`tally` counts the votes, weighted when another verifier scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.base import VerificationTask, VerifierResult

__all__ = ["Tally", "VoteVerifier", "tally", "vote_shares"]


class VoteVerifier:
    """Answers only (scores are ``None``); the strategy counts the votes."""

    name = "vote"

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        answers = [normalise_answer(extract_answer(text)) for text in candidates]
        return VerifierResult(scores=[None] * len(answers), answers=answers)


@dataclass(frozen=True)
class Tally:
    """Votes per answer class, in order of first appearance (unanswered samples do not vote)."""

    votes: dict[str, float]
    counts: dict[str, int]

    @property
    def winner(self) -> str | None:
        """The class with the most (weighted) votes; ties go to the class seen first."""
        return max(self.votes, key=self.votes.__getitem__) if self.votes else None

    @property
    def shares(self) -> dict[str, float]:
        """Each class's share of the (weighted) votes, summing to 1."""
        total = sum(self.votes.values())
        return {a: v / total for a, v in self.votes.items()} if total > 0 else {}

    def members(self, answers: Sequence[str | None], label: str | None = None) -> list[int]:
        """Indices of the samples in ``label``'s class (the winner's by default)."""
        target = self.winner if label is None else label
        return [i for i, a in enumerate(answers) if target is not None and a == target]


def tally(answers: Sequence[str | None], scores: Sequence[float | None] | None = None) -> Tally:
    """Count votes per class; with scores, each vote weighs its score (a missing score weighs 1)."""
    votes: dict[str, float] = {}
    counts: dict[str, int] = {}
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        score = scores[i] if scores is not None and i < len(scores) else None
        votes[answer] = votes.get(answer, 0.0) + (1.0 if score is None else max(0.0, float(score)))
        counts[answer] = counts.get(answer, 0) + 1
    return Tally(votes, counts)


def vote_shares(answers: Sequence[str | None], scores: Sequence[float | None] | None = None) -> dict[str, float]:
    """Each answer class's share of the votes cast, largest first."""
    shares = tally(answers, scores).shares
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))
