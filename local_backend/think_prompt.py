"""Prompts that open a thinking section, and the delimiters that close it.

A tokenizer with native ``<think>``/``</think>`` tokens gets its chat template followed by
``<think>``; the end of thinking is the ``</think>`` token. A model with a chat template but no
think tokens gets the router's own text delimiters. A base model (no template, like the bundled
Gemma 3 270M) gets a few-shot scaffold in which every answer is a ``Reasoning:`` line followed by
an ``Answer:`` line, so the thinking ends at the delimiter line ``\\nAnswer:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from local_backend.budget_forcing import ThinkFormat
from local_backend.prompting import BASE_STOPS

__all__ = ["BASE_THINK_FORMAT", "TEXT_THINK_FORMAT", "ThinkPrompt", "native_think_format", "thinking_prompt"]

BASE_THINK_FORMAT = ThinkFormat(open_text="Reasoning:", close_text="\nAnswer:", end_signals=("\nQ:",))
TEXT_THINK_FORMAT = ThinkFormat(open_text="<think>\n", close_text="\n</think>\n\n")

_PREAMBLE = "The following are questions answered correctly. Each answer starts with short step-by-step reasoning."
_SHOTS: tuple[tuple[str, str, str], ...] = (
    ("What is 12 + 7?", "12 + 7 = 19.", "19"),
    (
        "A box has 3 red and 5 blue pens. How many pens are in the box?",
        "3 red pens and 5 blue pens make 3 + 5 = 8.",
        "8",
    ),
    ("What is the capital of France?", "France is a country in Europe and its capital city is Paris.", "Paris."),
)


@dataclass(frozen=True)
class ThinkPrompt:
    """The text to continue (ending inside the thinking section), its format, and the answer's stops."""

    text: str
    format: ThinkFormat
    answer_stops: tuple[str, ...]


def native_think_format(tokenizer: Any) -> ThinkFormat | None:
    """The tokenizer's own ``<think>``/``</think>`` tokens, when it has both as single tokens."""
    vocab = tokenizer.get_vocab()
    if "<think>" in vocab and "</think>" in vocab:
        return ThinkFormat(open_text="<think>\n", close_text="</think>", close_token=int(vocab["</think>"]))
    return None


def thinking_prompt(messages: Sequence[Any], tokenizer: Any, assistant_prefix: str = "") -> ThinkPrompt:
    """A prompt whose continuation is the model's thinking (``assistant_prefix`` starts the thinking)."""
    if getattr(tokenizer, "chat_template", None):
        chat = [{"role": m.role, "content": m.content} for m in messages]
        text = str(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
        fmt = native_think_format(tokenizer) or TEXT_THINK_FORMAT
        opened = text if text.rstrip().endswith(fmt.open_text.strip()) else text + fmt.open_text
        return ThinkPrompt(opened + assistant_prefix, fmt, ())
    turns, question = _history(messages)
    worked = [f"Q: {q}\nReasoning: {r}\nAnswer: {a}" for q, r, a in _SHOTS]
    prefix = (" " + assistant_prefix.lstrip(" ")) if assistant_prefix else ""
    final = f"Q: {question}\n{BASE_THINK_FORMAT.open_text}{prefix}"
    return ThinkPrompt("\n\n".join([_preamble(messages), *worked, *turns, final]), BASE_THINK_FORMAT, BASE_STOPS)


def _preamble(messages: Sequence[Any]) -> str:
    system = [m.content.strip() for m in messages if m.role in ("system", "developer") and m.content.strip()]
    return system[-1] if system else _PREAMBLE


def _history(messages: Sequence[Any]) -> tuple[list[str], str]:
    """Earlier question/answer turns as plain Q/A pairs, and the question to answer now."""
    turns: list[str] = []
    pending: str | None = None
    for message in messages:
        if message.role in ("user", "tool"):
            content = message.content.strip()
            pending = content if pending is None else f"{pending}\n{content}"
        elif message.role == "assistant":
            turns.append(f"Q: {pending or ''}\nAnswer: {message.content.strip()}")
            pending = None
    return turns, pending or ""
