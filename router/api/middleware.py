"""Pure ASGI middleware: request ids on every response, and the request body size limit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from router.api.errors import error_body

__all__ = ["BodyLimitMiddleware", "RequestIdMiddleware"]

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestIdMiddleware:
    """Echo the client's ``x-request-id`` (when well-formed) or mint one; expose it on ``request.state``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _SAFE_ID.match(given) else f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Answer 413 when the body exceeds ``limit()`` bytes, by Content-Length or by counting."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        message = f"Request body exceeds the limit of {limit} bytes."
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            body = error_body(message, "invalid_request_error", None, "request_too_large")
            await JSONResponse(body, 413)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            event: dict[str, Any] = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:  # a chunked body with no Content-Length
                    raise HTTPException(status_code=413, detail=message)
            return event

        await self.app(scope, counting_receive, send)
