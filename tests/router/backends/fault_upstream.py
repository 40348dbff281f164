"""A small OpenAI-compatible upstream with scripted faults, served on loopback by the tests.

Each request takes the next :class:`Fault` from the script (``ok`` once the script is empty):
latency, an HTTP status (429 with ``Retry-After``, 500, ...), a connection reset mid-body or
mid-stream, malformed JSON, a slow first byte. Every request body is kept in ``requests`` so
tests can check what the router sent (reasoning knobs, ``n``, seeds, keys).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["Fault", "FaultyUpstream"]

FaultKind = Literal["ok", "status", "reset", "malformed", "slow_first_byte"]


@dataclass(frozen=True)
class Fault:
    """What the upstream does with one request."""

    kind: FaultKind = "ok"
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 0.0  # before anything is sent (latency, slow first byte)
    after_chunks: int = 2  # reset: stream pieces sent before the connection drops


class _Reset(Exception):
    """Raised inside a response body: uvicorn drops the connection mid-body."""


@dataclass
class FaultyUpstream:
    """Scripted OpenAI-compatible chat completions (``/v1/chat/completions``, ``/v1/models``)."""

    reply: str = "The answer is 42 ."
    reasoning: str = "Six times seven is forty-two ."
    model: str = "fake-model"
    chunk_delay_s: float = 0.0
    script: deque[Fault] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, *faults: Fault) -> None:
        """Queue faults for the next requests, in order."""
        with self._lock:
            self.script.extend(faults)

    def reset(self) -> None:
        """Forget the script and what was received."""
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.headers.clear()
            self.arrivals.clear()

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Fault:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.arrivals.append(time.monotonic())
            return self.script.popleft() if self.script else Fault()

    # -- replies --------------------------------------------------------------------------------

    @staticmethod
    def _thinking(body: dict[str, Any]) -> bool:
        return "reasoning_effort" in body or "thinking" in body

    def _usage(self, body: dict[str, Any], n: int) -> dict[str, Any]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", [])) + 3
        thinking = self._thinking(body)
        reasoning = len(self.reasoning.split()) * n if thinking else 0
        completion = len(self.reply.split()) * n + reasoning
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion}  # fmt: skip
        if thinking:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """The non-streaming reply for a request body."""
        n = int(body.get("n") or 1)
        message: dict[str, Any] = {"role": "assistant", "content": self.reply}
        if self._thinking(body):
            message["reasoning_content"] = self.reasoning
        choices = [{"index": i, "message": message, "finish_reason": "stop"} for i in range(n)]
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": self.model,
                "choices": choices, "usage": self._usage(body, n)}  # fmt: skip

    async def _stream(self, body: dict[str, Any], fault: Fault) -> AsyncIterator[bytes]:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": self.model}  # fmt: skip
        pieces = [("reasoning_content", w + " ") for w in self.reasoning.split()] if self._thinking(body) else []
        pieces += [("content", w + " ") for w in self.reply.split()]
        for i, (key, text) in enumerate(pieces):
            if fault.kind == "reset" and i == fault.after_chunks:
                raise _Reset("connection reset by the fault script")
            if fault.kind == "malformed" and i == fault.after_chunks:
                yield b"data: {not json\n\n"
                return
            chunk = {**base, "choices": [{"index": 0, "delta": {key: text}, "finish_reason": None}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
        finish = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield f"data: {json.dumps(finish)}\n\n".encode()
        if (body.get("stream_options") or {}).get("include_usage"):
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': self._usage(body, 1)})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        fault = self._next(body, {k.lower(): v for k, v in request.headers.items()})
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.kind == "status":
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
            error = {"error": {"message": f"scripted {fault.status}", "type": "fault", "code": None}}
            return JSONResponse(error, status_code=fault.status, headers=headers)
        if body.get("stream"):
            return StreamingResponse(self._stream(body, fault), media_type="text/event-stream")
        if fault.kind == "malformed":
            return PlainTextResponse("{not json", media_type="application/json")
        if fault.kind == "reset":
            return StreamingResponse(self._half_body(), media_type="application/json")
        return JSONResponse(self.completion(body))

    @staticmethod
    async def _half_body() -> AsyncIterator[bytes]:
        yield b'{"id": "chatcmpl-fake", "choi'
        raise _Reset("connection reset by the fault script")

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "tests"}]})

    def app(self) -> Starlette:
        """The ASGI app to serve."""
        return Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ])  # fmt: skip
