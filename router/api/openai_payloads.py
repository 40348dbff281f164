"""The OpenAI wire shapes of chat results: a choice, ``usage`` and one server-sent event line."""

from __future__ import annotations

import json
from typing import Any

from router.backends.base import Usage
from router.strategies import StrategyResult

__all__ = ["FINISH_REASONS", "choice_json", "sse_line", "usage_json"]

FINISH_REASONS = {"stop": "stop", "length": "length", "deadline": "length", "cancelled": "stop"}


def sse_line(payload: dict[str, Any]) -> str:
    """One SSE ``data:`` event carrying ``payload`` as compact JSON."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def choice_json(index: int, result: StrategyResult) -> dict[str, Any]:
    """The ``choices[index]`` object of a ChatCompletion for one strategy result."""
    completion = result.completion
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    logprobs: dict[str, Any] | None = None
    if completion.logprobs is not None:
        logprobs = {"content": [{"token": "", "logprob": lp, "bytes": None, "top_logprobs": []}
                                for lp in completion.logprobs]}  # fmt: skip
    return {
        "index": index,
        "message": message,
        "finish_reason": FINISH_REASONS.get(completion.finish_reason, "stop"),
        "logprobs": logprobs,
    }


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI ``usage`` with ``completion_tokens_details.reasoning_tokens``."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
