"""Streamed answers: a request's one-sample jobs as an event queue, turned into OpenAI SSE chunks.

Also the reply envelope (id, object, created, model) that streamed and whole answers share.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import StreamingResponse

from local_backend.batching import await_ticket
from local_backend.engine import LocalEngine
from local_backend.host import ModelHost
from local_backend.jobs import Job
from local_backend.openai_format import chat_logprobs, completion_logprobs, finish_reason, sse, usage
from local_backend.openai_protocol import ChatRequest, CompletionRequest

__all__ = [
    "Emit",
    "MakeJob",
    "Reply",
    "chat_stream",
    "completion_stream",
    "guarded",
    "open_stream",
    "reply_for",
    "sse_response",
]

Emit = Callable[[str], None]
MakeJob = Callable[[int, Emit, Emit], Job]


def open_stream(host: ModelHost, count: int, make_job: MakeJob) -> AsyncIterator[tuple[int, str, Any]]:
    """Queue ``count`` one-sample jobs now (so a full queue is a 503, not a broken stream) and return
    their events: ``(index, "text" | "reasoning", delta)`` as text arrives, ``(index, "done", result)``."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[int, str, Any]] = asyncio.Queue()

    def emitter(index: int, kind: str) -> Emit:
        def emit(delta: str) -> None:
            loop.call_soon_threadsafe(events.put_nowait, (index, kind, delta))

        return emit

    jobs = [make_job(i, emitter(i, "text"), emitter(i, "reasoning")) for i in range(count)]
    scheduler = host.require()[1]
    tickets = host.submit(jobs)
    return _drain(events, [functools.partial(await_ticket, scheduler, t) for t in tickets])


async def _drain(
    events: asyncio.Queue[tuple[int, str, Any]], waits: list[Callable[[], Any]]
) -> AsyncIterator[tuple[int, str, Any]]:  # fmt: skip
    waiters = [asyncio.ensure_future(wait()) for wait in waits]
    for index, waiter in enumerate(waiters):
        waiter.add_done_callback(lambda f, i=index: events.put_nowait((i, "done", f)))
    try:
        remaining = len(waiters)
        while remaining:
            index, kind, payload = await events.get()
            if kind == "done":
                remaining -= 1
                payload = payload.result()
            yield index, kind, payload
    finally:
        for waiter in waiters:
            if not waiter.done():
                waiter.cancel()  # the client went away: free the batch slots


@dataclass(frozen=True)
class Reply:
    id: str
    object: str
    model: str
    created: int

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"id": self.id, "object": self.object, "created": self.created, "model": self.model, **fields}


def reply_for(prefix: str, kind: str, model: str, host: ModelHost) -> Reply:
    return Reply(f"{prefix}-{uuid.uuid4().hex}", kind, model or host.names[0], int(time.time()))


def sse_response(lines: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(lines, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def guarded(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """An error after the stream began becomes an error event, then ``[DONE]``."""
    try:
        async for line in lines:
            yield line
    except Exception as exc:
        yield sse({"error": {"message": f"generation failed: {exc}", "type": "server_error", "code": None}})
        yield sse("[DONE]")


async def chat_stream(
    events: AsyncIterator[tuple[int, str, Any]],
    reply: Reply,
    body: ChatRequest,
    engine: LocalEngine,
    eos: frozenset[int],
    tidy: Callable[[str], str],
    *,
    reasoning: bool,
) -> AsyncIterator[str]:
    def chunk(index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> str:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return sse(reply.body(choices=[choice]))

    for index in range(body.n):
        yield chunk(index, {"role": "assistant", "content": ""})
    begun: set[tuple[int, str]] = set()
    prompt_tokens = completion_tokens = reasoning_tokens = 0
    async for index, kind, payload in events:
        if kind == "done":
            sample = payload.samples[0]
            prompt_tokens = payload.prompt_tokens
            completion_tokens += len(sample.token_ids)
            reasoning_tokens += sample.reasoning_tokens
            logprobs = chat_logprobs(engine.tokenizer, sample, eos) if body.logprobs else None
            yield chunk(index, {}, finish_reason(sample.finish_reason), logprobs)
            continue
        delta = payload if (index, kind) in begun else (tidy(payload) if kind == "text" else payload.lstrip())
        if delta:
            begun.add((index, kind))
            yield chunk(index, {"content" if kind == "text" else "reasoning_content": delta})
    if body.include_usage:
        counted = usage(prompt_tokens, completion_tokens, reasoning_tokens if reasoning else None)
        yield sse(reply.body(choices=[], usage=counted))
    yield sse("[DONE]")


async def completion_stream(
    events: AsyncIterator[tuple[int, str, Any]],
    reply: Reply,
    body: CompletionRequest,
    engine: LocalEngine,
    eos: frozenset[int],
) -> AsyncIterator[str]:
    def chunk(index: int, text: str, finish: str | None = None, logprobs: Any = None) -> str:
        return sse(reply.body(choices=[{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}]))

    prompt_tokens = completion_tokens = 0
    async for index, kind, payload in events:
        if kind == "text" and payload:
            yield chunk(index, payload)
        elif kind == "done":
            sample = payload.samples[0]
            prompt_tokens = payload.prompt_tokens
            completion_tokens += len(sample.token_ids)
            logprobs = completion_logprobs(engine.tokenizer, sample, eos) if body.logprobs is not None else None
            yield chunk(index, "", finish_reason(sample.finish_reason), logprobs)
    if body.include_usage:
        yield sse(reply.body(choices=[], usage=usage(prompt_tokens, completion_tokens)))
    yield sse("[DONE]")
