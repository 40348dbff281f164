"""An OpenAI-compatible upstream that answers at once: the fixed far end of the overhead benchmark.

A bare ``asyncio.Protocol`` HTTP/1.1 server (keep-alive, Content-Length or chunked request bodies),
no framework, so its own cost stays small next to what is measured through it.
``POST /v1/chat/completions`` returns a fixed chat completion (``n`` choices), or the same as SSE
chunks ending in ``data: [DONE]`` when the body says ``"stream": true``; ``GET /v1/models`` lists
the echoed model. Run it on a loopback port:

    python benchmarks/fast_upstream.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

__all__ = ["ANSWER", "UpstreamProtocol", "completion_body", "serve", "stream_body"]

ANSWER = "Paris."
PROMPT_TOKENS, COMPLETION_TOKENS = 12, 2
_MAX_HEAD = 64 * 1024


def completion_body(model: str, n: int = 1) -> bytes:
    """The fixed non-streaming chat completion, as JSON bytes."""
    choices = [{"index": i, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop",
                "logprobs": None} for i in range(n)]  # fmt: skip
    usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS * n,
             "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS * n}  # fmt: skip
    return json.dumps({"id": "chatcmpl-fast", "object": "chat.completion", "created": int(time.time()),
                       "model": model, "choices": choices, "usage": usage}).encode()  # fmt: skip


def stream_body(model: str) -> bytes:
    """The same answer as SSE: a role chunk, a content chunk, a finish chunk with usage, ``[DONE]``."""
    base = {"id": "chatcmpl-fast", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    deltas: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": ANSWER}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                   "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}},
    ]  # fmt: skip
    events = [b"data: " + json.dumps({**base, **delta}).encode() + b"\n\n" for delta in deltas]
    return b"".join(events) + b"data: [DONE]\n\n"


def _response(status: str, body: bytes, content_type: str, close: bool) -> bytes:
    head = (f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
            f"connection: {'close' if close else 'keep-alive'}\r\n\r\n")  # fmt: skip
    return head.encode() + body


def _answer(method: str, path: str, body: bytes, close: bool) -> bytes:
    path = path.split("?", 1)[0].rstrip("/")
    if method == "POST" and path.endswith("/chat/completions"):
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _response("400 Bad Request", b'{"error": {"message": "invalid JSON"}}', "application/json", close)
        model = str(request.get("model", "fast"))
        if request.get("stream"):
            return _response("200 OK", stream_body(model), "text/event-stream", close)
        return _response("200 OK", completion_body(model, int(request.get("n") or 1)), "application/json", close)
    if method == "GET" and path.endswith("/models"):
        listing = {"object": "list", "data": [{"id": "fast", "object": "model", "owned_by": "bench"}]}
        return _response("200 OK", json.dumps(listing).encode(), "application/json", close)
    if method == "GET" and path in ("", "/health"):
        return _response("200 OK", b"{}", "application/json", close)
    return _response("404 Not Found", b'{"error": {"message": "not found"}}', "application/json", close)


def _chunked(buffer: bytes, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked body from ``start``: (body, end offset), or None while incomplete."""
    parts, pos = [], start
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buffer[pos:eol].split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            end = buffer.find(b"\r\n\r\n", pos - 2)
            return (b"".join(parts), end + 4) if end >= 0 else None
        if len(buffer) < pos + size + 2:
            return None
        parts.append(buffer[pos : pos + size])
        pos += size + 2


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection: parse each request as its bytes arrive, answer it at once."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None and self._handle_one():
            pass

    def _handle_one(self) -> bool:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > _MAX_HEAD:
                self._close()
            return False
        lines = buffer[:end].decode("latin-1").split("\r\n")
        method, path, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _chunked(buffer, end + 4)
            if decoded is None:
                return False
            body, stop = decoded
        else:
            stop = end + 4 + int(headers.get("content-length", "0"))
            if len(buffer) < stop:
                return False
            body = buffer[end + 4 : stop]
        self._buffer = buffer[stop:]
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        assert self._transport is not None
        self._transport.write(_answer(method, path, body, close))
        if close:
            self._close()
            return False
        return True

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve(host: str, port: int) -> None:
    """Serve until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
