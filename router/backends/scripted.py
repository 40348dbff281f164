"""A deterministic backend that replays scripted completions, for exact control in tests and replays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from router.backends.base import (
    BackendCapabilities,
    Completion,
    GenerationRequest,
    GenerationResult,
    StreamChunk,
    Usage,
)

__all__ = ["ScriptedBackend"]

Responder = Callable[[GenerationRequest, int], str]


def _count_tokens(text: str) -> int:
    return len(text.split())


class ScriptedBackend:
    """Answers from a fixed list (cycled) or a responder function; tokens are whitespace words.

    ``price_per_token`` prices prompt and completion tokens alike; ``delay_s`` simulates latency.
    Every call is recorded in ``calls`` so tests can assert on what strategies asked for.
    """

    capabilities = BackendCapabilities(native_n=True)

    def __init__(
        self,
        responses: Sequence[str] | Responder,
        *,
        name: str = "scripted",
        price_per_token: float = 0.0,
        delay_s: float = 0.0,
    ) -> None:
        self.name = name
        self._responses = responses
        self._price = price_per_token
        self._delay = delay_s
        self._served = 0
        self.calls: list[GenerationRequest] = []

    def _next_text(self, request: GenerationRequest) -> str:
        index = self._served
        self._served += 1
        if callable(self._responses):
            return self._responses(request, index)
        return self._responses[index % len(self._responses)]

    def _completion(self, request: GenerationRequest) -> Completion:
        words = self._next_text(request).split(" ")
        finish: str = "stop"
        if len(words) > request.max_tokens:
            words, finish = words[: request.max_tokens], "length"
        text = " ".join(words)
        return Completion(text=text, finish_reason=finish, completion_tokens=_count_tokens(text))  # type: ignore[arg-type]

    def _usage(self, request: GenerationRequest, completions: list[Completion]) -> Usage:
        prompt = sum(_count_tokens(m.content) for m in request.messages)
        completion = sum(c.completion_tokens for c in completions)
        return Usage(prompt, completion, 0, (prompt + completion) * self._price, 1)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.calls.append(request)
        if self._delay:
            await asyncio.sleep(self._delay)
        completions = [self._completion(request) for _ in range(request.n)]
        return GenerationResult(completions, self._usage(request, completions), self.name)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        result = await self.generate(request.with_(n=1))
        completion = result.completions[0]
        for i, word in enumerate(completion.text.split(" ")):
            yield StreamChunk(text=word if i == 0 else " " + word)
        yield StreamChunk(finish_reason=completion.finish_reason, usage=result.usage)
