"""Streaming for strategies that must finish before they know their answer.

While the strategy works, the client receives progress heartbeats (SSE comments) so proxies
do not time out; once it is done, the chosen answer is streamed in small deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from router.backends.base import StreamChunk
from router.strategies.base import Progress, StrategyContext, StrategyResult, StreamEvent

__all__ = ["HEARTBEAT_S", "chunk_text", "stream_by_running"]

HEARTBEAT_S = 2.0
_PIECES = re.compile(r"\S+\s*|\s+")


def chunk_text(text: str) -> list[str]:
    """Split text into word-sized deltas that concatenate back to it exactly."""
    return _PIECES.findall(text)


async def stream_by_running(strategy: Any, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
    """Run ``strategy`` to completion with heartbeats, then stream its reasoning and answer."""
    task: asyncio.Task[StrategyResult] = asyncio.ensure_future(strategy.run(ctx))
    try:
        started = asyncio.get_running_loop().time()
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_S)
            if done:
                break
            elapsed = asyncio.get_running_loop().time() - started
            yield Progress(f"thinkroute: {ctx.plan.strategy} working ({elapsed:.0f}s)")
        result = task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if result.completion.reasoning:
        for piece in chunk_text(result.completion.reasoning):
            yield StreamChunk(reasoning=piece)
    for piece in chunk_text(result.completion.text):
        yield StreamChunk(text=piece)
    yield result
