"""Same strategy, another backend: try a backend's policy-defined fallbacks when it fails.

A call moves on to the next backend when the current one raises a retryable upstream error
(its own retries exhausted, or it is cooling down) or its credentials are refused; it stops
when the upstream rejected the request itself (that would fail everywhere) or the deadline has
passed. A stream falls back only before its first chunk: text already sent cannot be unsent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence

from router.backends.base import Backend, BackendCapabilities, GenerationRequest, GenerationResult, StreamChunk
from router.backends.resilience import report_upstream_event
from router.errors import BackendError, UpstreamBadRequest
from router.telemetry.context import span

__all__ = ["FallbackBackend"]

log = logging.getLogger("thinkroute.backends.fallback")


def _worth_trying_next(exc: BackendError, deadline: float | None) -> bool:
    if isinstance(exc, UpstreamBadRequest):
        return False
    return deadline is None or time.monotonic() < deadline


class FallbackBackend:
    """A backend followed by the backends to try, in order, when it fails."""

    def __init__(self, primary: Backend, fallbacks: Sequence[Backend]) -> None:
        self.primary = primary
        self.chain = [primary, *fallbacks]
        self.name = primary.name
        self.capabilities: BackendCapabilities = primary.capabilities
        self.price = getattr(primary, "price", None)

    @property
    def ready(self) -> bool:
        return any(getattr(backend, "ready", True) for backend in self.chain)

    def _note(self, failed: Backend, nxt: Backend, exc: BackendError) -> None:
        log.warning("backend %s failed (%s); falling back to %s", failed.name, exc.code, nxt.name)
        report_upstream_event(failed.name, "fallback", exc.code)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """The first backend's result that succeeds; the last failure if none does."""
        for i, backend in enumerate(self.chain):
            try:
                if i == 0:
                    return await backend.generate(request)
                with span("fallback", {"thinkroute.backend": backend.name, "thinkroute.fallback.index": i}):
                    return await backend.generate(request)
            except BackendError as exc:
                if i + 1 == len(self.chain) or not _worth_trying_next(exc, request.deadline):
                    raise
                self._note(backend, self.chain[i + 1], exc)
        raise AssertionError("unreachable: the chain is never empty")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        """Stream from the first backend that opens; fall back only before anything was sent."""
        for i, backend in enumerate(self.chain):
            sent = False
            try:
                async for chunk in backend.stream(request):
                    sent = True
                    yield chunk
                return
            except BackendError as exc:
                if sent or i + 1 == len(self.chain) or not _worth_trying_next(exc, request.deadline):
                    raise
                self._note(backend, self.chain[i + 1], exc)
