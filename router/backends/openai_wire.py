"""The OpenAI chat-completions wire format: request bodies out, completions and stream deltas in.

Shared by the lean ``openai_compatible`` backend and the LiteLLM backend (which returns the same
shape as plain dicts). Reasoning text is read from ``reasoning_content`` (vLLM, DeepSeek, LiteLLM)
or ``reasoning`` (newer vLLM); reasoning tokens from ``usage.completion_tokens_details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from router.backends.base import Completion, FinishReason, GenerationRequest, StreamChunk, ThinkingBudget, Usage
from router.errors import UpstreamUnavailable

__all__ = [
    "MalformedReply",
    "chat_body",
    "completions_from",
    "reasoning_params",
    "stream_chunk_from",
    "usage_from",
]

Knob = Literal["none", "reasoning_effort", "thinking_budget"]
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "stop", "content_filter": "stop"}


class MalformedReply(UpstreamUnavailable):
    """The upstream answered 2xx with something that is not a chat completion (502)."""

    code = "upstream_malformed_reply"


def reasoning_params(thinking: ThinkingBudget | None, knob: Knob) -> dict[str, Any]:
    """The provider knob for a thinking budget: ``reasoning_effort`` or thinking ``budget_tokens``."""
    if thinking is None or knob == "none":
        return {}
    if knob == "reasoning_effort":
        return {"reasoning_effort": thinking.effort or "medium"}
    return {"thinking": {"type": "enabled", "budget_tokens": thinking.max_tokens}}


def chat_body(
    request: GenerationRequest, model: str, *, knob: Knob, stream: bool = False, n: int | None = None
) -> dict[str, Any]:
    """The JSON body of a chat-completions call for ``request``."""
    messages: list[dict[str, str]] = [{"role": m.role, "content": m.content} for m in request.messages]
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": request.temperature}
    thinking = reasoning_params(request.thinking, knob)
    # with a thinking budget the provider's max_tokens covers thinking + answer
    body["max_tokens"] = request.max_tokens + (request.thinking.max_tokens if thinking and request.thinking else 0)
    body.update(thinking)
    if request.top_p != 1.0:
        body["top_p"] = request.top_p
    count = request.n if n is None else n
    if count != 1:
        body["n"] = count
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.logprobs:
        body["logprobs"] = True
    if request.assistant_prefix:  # vLLM/SGLang: continue the assistant turn instead of opening a new one
        messages.append({"role": "assistant", "content": request.assistant_prefix})
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def usage_from(payload: Any) -> tuple[int, int, int]:
    """``(prompt, completion, reasoning)`` tokens of a reply's ``usage`` (zeros when absent)."""
    usage = _field(payload, "usage")
    if usage is None:
        return 0, 0, 0
    details = _field(usage, "completion_tokens_details")
    reasoning = _field(details, "reasoning_tokens") if details is not None else None
    return int(_field(usage, "prompt_tokens") or 0), int(_field(usage, "completion_tokens") or 0), int(reasoning or 0)


def _reasoning_text(message: Any) -> str | None:
    text = _field(message, "reasoning_content") or _field(message, "reasoning")
    return text if isinstance(text, str) and text else None


def _logprobs(choice: Any) -> list[float] | None:
    logprobs = _field(choice, "logprobs")
    content = _field(logprobs, "content") if logprobs is not None else None
    if not content:
        return None
    return [float(_field(item, "logprob")) for item in content]


def completions_from(payload: Any, *, backend: str) -> tuple[list[Completion], Usage]:
    """Completions (in choice order) and token usage of a chat-completions reply; cost left at 0."""
    choices = _field(payload, "choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("the upstream reply has no choices", backend=backend)
    prompt, completion_total, reasoning_total = usage_from(payload)
    ordered = sorted(choices, key=lambda c: int(_field(c, "index") or 0))
    completions: list[Completion] = []
    for choice in ordered:
        message = _field(choice, "message")
        if message is None:
            raise MalformedReply("an upstream choice has no message", backend=backend)
        content = _field(message, "content")
        reasoning = _reasoning_text(message)
        finish = _FINISH.get(str(_field(choice, "finish_reason") or "stop"), "stop")
        completions.append(Completion(content if isinstance(content, str) else "", finish, 0, reasoning,
                                      logprobs=_logprobs(choice)))  # fmt: skip
    _spread_tokens(completions, completion_total, reasoning_total)
    usage = Usage(prompt, completion_total, reasoning_total, 0.0, 1)
    return completions, usage


def _spread_tokens(completions: list[Completion], total: int, reasoning: int) -> None:
    """Per-completion token counts: the reply reports totals only, so split them by text length."""
    sizes = [len(c.text) + len(c.reasoning or "") for c in completions]
    thought = [len(c.reasoning or "") for c in completions]
    whole, thought_whole = sum(sizes) or 1, sum(thought) or 1
    for completion, size, share in zip(completions, sizes, thought, strict=True):
        completion.completion_tokens = round(total * size / whole) if len(completions) > 1 else total
        completion.reasoning_tokens = round(reasoning * share / thought_whole) if len(completions) > 1 else reasoning


def stream_chunk_from(payload: Mapping[str, Any]) -> StreamChunk | None:
    """A stream delta from one SSE ``data:`` object (``None`` when it carries nothing for us)."""
    chunk = StreamChunk()
    choices = payload.get("choices") or []
    if choices:
        choice = choices[0]
        delta = choice.get("delta") or {}
        chunk.text = delta.get("content") or ""
        chunk.reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        if choice.get("finish_reason"):
            chunk.finish_reason = _FINISH.get(str(choice["finish_reason"]), "stop")
    if payload.get("usage"):
        prompt, completion, reasoning = usage_from(payload)
        chunk.usage = Usage(prompt, completion, reasoning, 0.0, 1)
    if not (chunk.text or chunk.reasoning or chunk.finish_reason or chunk.usage):
        return None
    return chunk
