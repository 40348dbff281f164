"""The verifier interface: score candidate completions of one task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from router.backends.base import ChatMessage, Usage

__all__ = ["VerificationTask", "Verifier", "VerifierResult"]


@dataclass(frozen=True)
class VerificationTask:
    """What the candidates answer: the conversation, tests when the request carries any, and a
    reference answer (offline evaluation only; the router never has one)."""

    messages: tuple[ChatMessage, ...]
    tests: str | None = None
    reference: str | None = None

    @property
    def question(self) -> str:
        """The last user message (what a judge grades against)."""
        users = [m.content for m in self.messages if m.role == "user"]
        return users[-1] if users else ""


@dataclass
class VerifierResult:
    """One entry per candidate, in order.

    ``scores``: a score in [0, 1], or ``None`` when the verifier only votes. ``answers``: the
    candidate's canonical answer, which is also its equivalence-class label (equal labels are one
    class; ``None`` means no answer, which never votes). ``usage``: what verifying consumed (judge
    calls), for the strategy to charge.
    """

    scores: list[float | None]
    answers: list[str | None]
    usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        if len(self.scores) != len(self.answers):
            raise ValueError(f"{len(self.scores)} scores for {len(self.answers)} answers")

    @property
    def classes(self) -> list[int | None]:
        """Equivalence-class ids (0, 1, … in order of first appearance), ``None`` for no answer."""
        ids: dict[str, int] = {}
        return [None if a is None else ids.setdefault(a, len(ids)) for a in self.answers]


class Verifier(Protocol):
    """Scores candidate completions of one task. A fresh instance serves one request."""

    name: str

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        """One result entry per candidate, in order."""
        ...
