"""Spans around backend calls (with one child span per sample) and verifier calls.

Wrappers keep the wrapped object's interface (attribute access falls through), so strategies
cannot tell a traced backend or verifier from the real one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from router.backends.base import Backend, GenerationRequest, GenerationResult, StreamChunk, Usage
from router.telemetry.attributes import backend_request_attributes, backend_result_attributes, mark_error
from router.telemetry.context import span

if TYPE_CHECKING:
    from router.telemetry.core import Telemetry
    from router.verifiers import VerificationTask, Verifier, VerifierResult

__all__ = ["TracedBackend", "TracedVerifier", "traced_verifier"]


def _model_name(backend: Any) -> str:
    model = getattr(getattr(backend, "config", None), "model", None)
    return str(model) if model else str(backend.name)


class TracedBackend:
    """A backend whose calls are ``chat <model>`` spans with a ``sample`` child per completion.

    In-process backends that batch (they expose ``set_batch_listener``) report the size of every batch
    they run into the batch-size histogram.
    """

    def __init__(self, inner: Backend, telemetry: Telemetry) -> None:
        self._inner = inner
        self._telemetry = telemetry
        self.name = inner.name
        self.capabilities = inner.capabilities
        self._model = _model_name(inner)
        if hasattr(inner, "set_batch_listener") and getattr(inner, "batch_listener", None) is None:
            name = self.name  # a method call reaches the real backend through wrappers (metering, in-flight)
            inner.set_batch_listener(lambda rows: telemetry.record_batch_size(name, rows))

    def __getattr__(self, item: str) -> Any:
        return getattr(self._inner, item)

    @property
    def inner(self) -> Backend:
        return self._inner

    def _attributes(self, request: GenerationRequest) -> dict[str, Any]:
        return backend_request_attributes(self.name, self._model, request, self._telemetry.record_content)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        tel = self._telemetry
        with tel.span(f"chat {self._model}", self._attributes(request) if tel.recording else None) as current:
            start_ns = time.time_ns()
            result = await self._inner.generate(request)
            if current.is_recording():
                current.set_attributes(tel.clean(backend_result_attributes(result, tel.record_content)))
                _sample_spans(tel, result, start_ns)
        return result

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        tel = self._telemetry
        if not tel.recording:
            async for chunk in self._inner.stream(request):
                yield chunk
            return
        current = tel.tracer.start_span(f"chat {self._model}", attributes=tel.clean(self._attributes(request)))
        usage: Usage | None = None
        finish: str | None = None
        try:
            async for chunk in self._inner.stream(request):
                usage = chunk.usage or usage
                finish = chunk.finish_reason or finish
                yield chunk
        except BaseException as exc:
            mark_error(current, exc, tel.redact)
            raise
        finally:
            if usage is not None:
                current.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
                current.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
                current.set_attribute("thinkroute.usage.reasoning_tokens", usage.reasoning_tokens)
            if finish is not None:
                current.set_attribute("gen_ai.response.finish_reasons", [finish])
            current.end()


def _sample_spans(tel: Telemetry, result: GenerationResult, start_ns: int) -> None:
    """One ``sample`` span per completion of a call, spanning the call (samples of a batch run together)."""
    end_ns = time.time_ns()
    for index, completion in enumerate(result.completions):
        sample = tel.tracer.start_span("sample", start_time=start_ns)
        sample.set_attributes(
            {
                "thinkroute.sample.index": index,
                "gen_ai.usage.output_tokens": completion.completion_tokens,
                "thinkroute.usage.reasoning_tokens": completion.reasoning_tokens,
                "gen_ai.response.finish_reasons": [completion.finish_reason],
            }
        )
        sample.end(end_time=end_ns)


class TracedVerifier:
    """A verifier whose ``score`` calls are ``verify`` spans (candidates, best score, tokens used)."""

    def __init__(self, inner: Verifier) -> None:
        self._inner = inner
        self.name = inner.name

    def __getattr__(self, item: str) -> Any:
        return getattr(self._inner, item)

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        attributes = {"thinkroute.verifier": self.name, "thinkroute.verifier.candidates": len(candidates)}
        with span("verify", attributes) as current:
            result = await self._inner.score(task, candidates)
            if current.is_recording():
                known = [s for s in result.scores if s is not None]
                if known:
                    current.set_attribute("thinkroute.verifier.best_score", max(known))
                current.set_attribute("thinkroute.verifier.answers", len({a for a in result.answers if a}))
                current.set_attribute("gen_ai.usage.input_tokens", result.usage.prompt_tokens)
                current.set_attribute("gen_ai.usage.output_tokens", result.usage.completion_tokens)
        return result


def traced_verifier(verifier: Verifier) -> Verifier:
    """``verifier`` with a span per ``score`` call while a request is being served."""
    return TracedVerifier(verifier)
