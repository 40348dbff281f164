"""Span attributes: OpenTelemetry GenAI semantic conventions where they apply, ``thinkroute.*`` otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from router.backends.base import GenerationRequest, GenerationResult
from router.telemetry.outcome import RequestOutcome

__all__ = [
    "backend_request_attributes",
    "backend_result_attributes",
    "clean_attributes",
    "mark_error",
    "request_attributes",
]

Redact = Callable[[str], str]
_Scalar = str | bool | int | float


def clean_attributes(attributes: Mapping[str, Any] | None, redact: Redact) -> dict[str, Any]:
    """Drop ``None`` values, redact strings, turn other values into strings or lists of scalars."""
    if not attributes:
        return {}
    cleaned: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, str):
            cleaned[key] = redact(value)
        elif isinstance(value, _Scalar):
            cleaned[key] = value
        elif isinstance(value, Sequence) and all(isinstance(v, _Scalar) for v in value):
            cleaned[key] = [redact(v) if isinstance(v, str) else v for v in value]
        else:
            cleaned[key] = redact(json.dumps(value, default=str))
    return cleaned


def mark_error(span: Span, exc: BaseException, redact: Redact) -> None:
    """Error status and ``error.type`` on ``span``; the message is redacted and no traceback is kept."""
    span.set_attribute("error.type", type(exc).__name__)
    span.set_status(Status(StatusCode.ERROR, redact(str(exc))[:500]))


def request_attributes(outcome: RequestOutcome) -> dict[str, Any]:
    """The ``thinkroute.request`` span's attributes at the end of the request."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": outcome.route,
        "gen_ai.response.model": outcome.route if outcome.strategy else None,
        "gen_ai.usage.input_tokens": outcome.prompt_tokens,
        "gen_ai.usage.output_tokens": outcome.completion_tokens,
        "http.response.status_code": outcome.status_code,
        "error.type": outcome.error_type,
        "thinkroute.request_id": outcome.request_id,
        "thinkroute.route": outcome.route,
        "thinkroute.tenant": outcome.tenant_label,
        "thinkroute.difficulty": outcome.difficulty,
        "thinkroute.difficulty.bucket": outcome.bucket,
        "thinkroute.strategy": outcome.strategy,
        "thinkroute.strategy.type": outcome.strategy_type,
        "thinkroute.fallback_from": outcome.fallback_from,
        "thinkroute.decision.rule": outcome.rule,
        "thinkroute.decision.candidates": outcome.candidates_considered,
        "thinkroute.samples": outcome.samples,
        "thinkroute.samples.max": outcome.samples_max,
        "thinkroute.stop_reason": outcome.stop_reason,
        "thinkroute.usage.reasoning_tokens": outcome.reasoning_tokens,
        "thinkroute.cost_usd": outcome.cost_usd,
        "thinkroute.slo.latency_ms": outcome.slo_latency_ms,
        "thinkroute.slo.max_cost_usd": outcome.slo_max_cost_usd,
        "thinkroute.slo.min_quality": outcome.slo_min_quality,
        "thinkroute.deadline_met": outcome.deadline_met,
        "thinkroute.stream": outcome.stream,
        "thinkroute.ttft_s": outcome.ttft_s,
    }


def backend_request_attributes(
    backend: str, model: str, request: GenerationRequest, record_content: bool
) -> dict[str, Any]:
    """A backend call's request side (``gen_ai.request.*``)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": request.max_tokens,
        "gen_ai.request.temperature": request.temperature,
        "gen_ai.request.top_p": request.top_p,
        "gen_ai.request.seed": request.seed,
        "gen_ai.request.choice.count": request.n,
        "thinkroute.backend": backend,
        "thinkroute.thinking_budget": request.thinking.max_tokens if request.thinking else None,
    }
    if record_content:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        attributes["gen_ai.input.messages"] = json.dumps(messages)
    return attributes


def backend_result_attributes(result: GenerationResult, record_content: bool) -> dict[str, Any]:
    """A backend call's response side (``gen_ai.response.*``, ``gen_ai.usage.*``)."""
    attributes: dict[str, Any] = {
        "gen_ai.response.model": result.model,
        "gen_ai.response.finish_reasons": [c.finish_reason for c in result.completions],
        "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": result.usage.completion_tokens,
        "thinkroute.usage.reasoning_tokens": result.usage.reasoning_tokens,
        "thinkroute.cost_usd": result.usage.cost_usd,
    }
    if record_content:
        outputs = [{"role": "assistant", "content": c.text} for c in result.completions]
        attributes["gen_ai.output.messages"] = json.dumps(outputs)
    return attributes
