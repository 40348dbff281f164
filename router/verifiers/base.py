"""The verifier interface: score candidate answers to one task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from router.backends.base import ChatMessage, Usage

__all__ = ["VerificationTask", "Verifier", "VerifierResult"]


@dataclass(frozen=True)
class VerificationTask:
    """What the candidates answer: the conversation, and tests when the request carries any."""

    messages: tuple[ChatMessage, ...]
    tests: str | None = None

    @property
    def question(self) -> str:
        users = [m.content for m in self.messages if m.role == "user"]
        return users[-1] if users else ""


@dataclass
class VerifierResult:
    """Per candidate: a score in [0, 1] (``None`` when the verifier only votes), the extracted answer
    (normalised; equal strings are one equivalence class), and what verifying consumed."""

    scores: list[float | None]
    answers: list[str | None]
    usage: Usage = field(default_factory=Usage)


class Verifier(Protocol):
    """Scores candidate completions of one task."""

    name: str

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        """One result entry per candidate, in order."""
        ...
