"""Turn chat messages into the text a model continues.

Models that ship a chat template use it. A base model (the bundled Gemma 3 270M has no
template, and echoes the question when given Gemma's chat format) gets a short few-shot
``Q:``/``A:`` scaffold instead, with stop sequences that end the answer where the next
question would begin. Earlier turns become earlier Q/A pairs; a system message replaces the
scaffold's preamble.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["BASE_STOPS", "Message", "Prompt", "build_prompt", "scaffold_prompt"]


class Message(Protocol):
    """Anything with a chat ``role`` and text ``content``."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


_PREAMBLE = "The following are questions answered correctly and concisely."
_SHOTS: tuple[tuple[str, str], ...] = (
    ("What is the capital of France?", "Paris."),
    ("What is 12 + 7?", "19"),
    ("A box has 3 red and 5 blue pens. How many pens are in the box?", "8"),
    ("Write a one-line greeting for a colleague.", "Good morning, I hope your day goes well!"),
)
BASE_STOPS: tuple[str, ...] = ("\nQ:", "\n\n")


@dataclass(frozen=True)
class Prompt:
    """The text to continue and the stop sequences that end the answer."""

    text: str
    stop: tuple[str, ...]
    templated: bool


def scaffold_prompt(messages: Sequence[Message], assistant_prefix: str = "") -> Prompt:
    """The few-shot Q/A scaffold for base models."""
    preamble = _PREAMBLE
    turns: list[str] = []
    pending_question: str | None = None
    for message in messages:
        content = message.content.strip()
        if message.role in ("system", "developer"):
            preamble = content or preamble
        elif message.role in ("user", "tool"):
            pending_question = content if pending_question is None else f"{pending_question}\n{content}"
        elif message.role == "assistant":
            turns.append(f"Q: {pending_question or ''}\nA: {content}")
            pending_question = None
    shots = [f"Q: {q}\nA: {a}" for q, a in _SHOTS]
    final = f"Q: {pending_question or ''}\nA:"
    if assistant_prefix:
        final += " " + assistant_prefix.lstrip(" ")
    text = "\n\n".join([preamble, *shots, *turns, final])
    return Prompt(text=text, stop=BASE_STOPS, templated=False)


def build_prompt(messages: Sequence[Message], tokenizer: Any, assistant_prefix: str = "") -> Prompt:
    """Use the tokenizer's chat template when it has one, the base-model scaffold otherwise."""
    if getattr(tokenizer, "chat_template", None):
        chat = [{"role": m.role, "content": m.content} for m in messages]
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        return Prompt(text=str(text) + assistant_prefix, stop=(), templated=True)
    return scaffold_prompt(messages, assistant_prefix)
