"""single_pass: one completion, streamed token by token when the client streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

from router.backends.base import Completion, StreamChunk, Usage
from router.strategies.base import StrategyContext, StrategyResult, StreamEvent

__all__ = ["SinglePass"]


class SinglePass:
    """Ask the backend once."""

    async def run(self, ctx: StrategyContext) -> StrategyResult:
        request = ctx.request.with_(max_tokens=min(ctx.request.max_tokens, ctx.plan.token_cap),
                                    n=1, deadline=ctx.plan.deadline)  # fmt: skip
        result = await ctx.backend.generate(request)
        return StrategyResult(result.completions[0], result.usage, samples=1, stop_reason="single")

    async def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        request = ctx.request.with_(max_tokens=min(ctx.request.max_tokens, ctx.plan.token_cap),
                                    n=1, deadline=ctx.plan.deadline)  # fmt: skip
        parts: list[str] = []
        usage = Usage()
        finish = "stop"
        async for chunk in ctx.backend.stream(request):
            if chunk.text or chunk.reasoning:
                parts.append(chunk.text)
                yield StreamChunk(text=chunk.text, reasoning=chunk.reasoning)
            if chunk.finish_reason is not None:
                finish = chunk.finish_reason
            if chunk.usage is not None:
                usage = chunk.usage
        completion = Completion("".join(parts), finish, usage.completion_tokens)  # type: ignore[arg-type]
        yield StrategyResult(completion, usage, samples=1, stop_reason="single")
