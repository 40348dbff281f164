"""Count what a request really spent, call by call, so it can be settled even when it fails midway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from router.backends.base import Backend, GenerationRequest, GenerationResult, StreamChunk, Usage

__all__ = ["MeteredBackend", "SpendMeter"]


class SpendMeter:
    """The running total of one request's backend usage."""

    def __init__(self) -> None:
        self.usage = Usage()

    def add(self, usage: Usage | None) -> None:
        if usage is not None:
            self.usage = self.usage + usage


class MeteredBackend:
    """Wraps a backend; every completed call (and any usage a failed call reports) is added to a meter."""

    def __init__(self, backend: Backend, meter: SpendMeter) -> None:
        self._backend = backend
        self._meter = meter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        try:
            result = await self._backend.generate(request)
        except Exception as exc:
            self._meter.add(getattr(exc, "usage", None))  # an upstream may have spent tokens before failing
            raise
        self._meter.add(result.usage)
        return result

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        try:
            async for chunk in self._backend.stream(request):
                if chunk.usage is not None:
                    self._meter.add(chunk.usage)
                yield chunk
        except Exception as exc:
            self._meter.add(getattr(exc, "usage", None))
            raise
