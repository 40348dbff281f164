"""Cheap prompt-size estimates for planning (no tokenizer on the hot path)."""

from __future__ import annotations

from collections.abc import Sequence

from router.backends.base import ChatMessage

__all__ = ["estimate_prompt_tokens"]

_CHARS_PER_TOKEN = 4.0
_PER_MESSAGE = 4


def estimate_prompt_tokens(messages: Sequence[ChatMessage]) -> int:
    """About four characters per token, plus a few per message for the chat format."""
    chars = sum(len(m.content) for m in messages)
    return int(chars / _CHARS_PER_TOKEN) + _PER_MESSAGE * len(messages)
