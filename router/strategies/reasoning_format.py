"""Prompted reasoning formats: instructions that make a model think before a marked answer, and the split."""

from __future__ import annotations

from dataclasses import dataclass

from router.backends.base import ChatMessage

__all__ = ["ANSWER_MARKER", "SplitAnswer", "split_reasoning", "with_instruction"]

ANSWER_MARKER = "####"


@dataclass(frozen=True)
class SplitAnswer:
    """Thinking and answer parts of one completion."""

    reasoning: str
    answer: str
    found_marker: bool


def split_reasoning(text: str, marker: str = ANSWER_MARKER) -> SplitAnswer:
    """Split at the last answer marker; without one, the last line is taken as the answer."""
    index = text.rfind(marker)
    if index >= 0:
        return SplitAnswer(text[:index].strip(), text[index + len(marker) :].strip(), True)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) <= 1:
        return SplitAnswer("", text.strip(), False)
    return SplitAnswer("\n".join(lines[:-1]).strip(), lines[-1].strip(), False)


def with_instruction(messages: tuple[ChatMessage, ...], instruction: str) -> tuple[ChatMessage, ...]:
    """Prepend ``instruction`` to the system message (adding one when there is none)."""
    if messages and messages[0].role in ("system", "developer"):
        first = messages[0]
        return (ChatMessage(first.role, f"{instruction}\n\n{first.content}".strip()), *messages[1:])
    return (ChatMessage("system", instruction), *messages)
