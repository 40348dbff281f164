"""Engine results in the OpenAI response shapes: finish reasons, usage and logprobs objects, SSE lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from local_backend.params import SampleOutput

__all__ = [
    "chat_logprobs",
    "completion_logprobs",
    "finish_reason",
    "sse",
    "token_pieces",
    "usage",
]

_CONTEXT = 6  # tokens of left context when decoding one token's text (spaces and multi-byte characters)


def finish_reason(reason: str) -> str:
    """OpenAI's finish reason: ``stop`` or ``length`` (a deadline or a cancellation cut the text short)."""
    return "stop" if reason == "stop" else "length"


def usage(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int | None = None) -> dict[str, Any]:
    """The usage object; ``completion_tokens_details`` only when reasoning tokens were counted."""
    body: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return body


def sse(payload: dict[str, Any] | str) -> str:
    """One server-sent event line (``data: ...``)."""
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)}\n\n"


def _piece(tokenizer: Any, context: Sequence[int], token: int) -> str:
    """The text ``token`` adds after ``context`` (spaces and characters spanning tokens come out right)."""
    base = tokenizer.decode(list(context), skip_special_tokens=False)
    full = tokenizer.decode([*context, token], skip_special_tokens=False)
    if full.startswith(base) and not base.endswith("\ufffd"):
        return str(full[len(base) :])
    return str(tokenizer.decode([token], skip_special_tokens=False))


def token_pieces(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """The text of each token of ``ids`` in its context."""
    return [_piece(tokenizer, ids[max(0, i - _CONTEXT) : i], t) for i, t in enumerate(ids)]


def _answer_tokens(sample: SampleOutput, eos_ids: frozenset[int]) -> tuple[int, int]:
    """The index range of the tokens behind ``sample.text`` (after any thinking, without a final end-of-sequence)."""
    start = sample.answer_start if sample.answer_start is not None else len(sample.token_ids)
    end = len(sample.token_ids)
    if end > start and sample.token_ids[end - 1] in eos_ids:
        end -= 1
    return start, end


def chat_logprobs(tokenizer: Any, sample: SampleOutput, eos_ids: frozenset[int]) -> dict[str, Any] | None:
    """``choices[i].logprobs`` of a chat completion: one entry per answer token, with its top alternatives."""
    if sample.logprobs is None:
        return None
    start, end = _answer_tokens(sample, eos_ids)
    ids = sample.token_ids
    pieces = token_pieces(tokenizer, ids)
    content = []
    for i in range(start, end):
        context = ids[max(0, i - _CONTEXT) : i]
        tops = sample.top_logprobs[i] if sample.top_logprobs else []
        alternatives = []
        for alt, logprob in tops:
            text = _piece(tokenizer, context, alt)
            alternatives.append({"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))})
        content.append(
            {
                "token": pieces[i],
                "logprob": sample.logprobs[i],
                "bytes": list(pieces[i].encode("utf-8")),
                "top_logprobs": alternatives,
            }
        )
    return {"content": content, "refusal": None}


def completion_logprobs(
    tokenizer: Any, sample: SampleOutput, eos_ids: frozenset[int], text_offset: int = 0
) -> dict[str, Any] | None:
    """``choices[i].logprobs`` of a text completion (tokens, token_logprobs, top_logprobs, text_offset)."""
    if sample.logprobs is None:
        return None
    start, end = _answer_tokens(sample, eos_ids)
    ids = sample.token_ids
    pieces = token_pieces(tokenizer, ids)[start:end]
    offsets, position = [], text_offset
    for piece in pieces:
        offsets.append(position)
        position += len(piece)
    tops = None
    if sample.top_logprobs:
        tops = []
        for i in range(start, end):
            top: dict[str, float] = {}
            for alt, logprob in sample.top_logprobs[i]:  # most likely first; texts that collide keep the likelier
                top.setdefault(_piece(tokenizer, ids[max(0, i - _CONTEXT) : i], alt), logprob)
            tops.append(top)
    return {
        "tokens": pieces,
        "token_logprobs": sample.logprobs[start:end],
        "top_logprobs": tops,
        "text_offset": offsets,
    }
