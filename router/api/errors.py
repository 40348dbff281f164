"""Turn every error into the OpenAI error shape; a bug is a 500 with the request id, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from router.errors import ThinkrouteError
from router.telemetry.redact import redact

__all__ = ["error_body", "install_error_handlers"]

log = logging.getLogger("thinkroute.api")


def error_body(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The OpenAI error object; credentials in ``message`` (e.g. echoed by an upstream) are redacted."""
    return {"error": {"message": redact(message), "type": error_type, "param": param, "code": code}}


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if item == "body" and not parts:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return JSONResponse(
            error_body("Request body is not valid JSON.", "invalid_request_error", None, "invalid_json"), 400
        )
    param = _field_path(tuple(first.get("loc", ())))
    details = "; ".join(f"{_field_path(tuple(e['loc'])) or 'body'}: {e['msg']}" for e in errors[:5])
    message = f"Invalid request: {details}"
    return JSONResponse(error_body(message, "invalid_request_error", param or None, "invalid_value"), 400)


async def _thinkroute_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ThinkrouteError)
    headers = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, int(exc.retry_after + 0.999)))
    body = error_body(exc.message, exc.error_type, exc.param, exc.code)
    if exc.details:
        body["error"]["details"] = exc.details
    if exc.status_code >= 500:
        log.warning("request %s failed: %s", _request_id(request), exc.message)
    return JSONResponse(body, exc.status_code, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
    code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status_code)
    return JSONResponse(error_body(str(exc.detail), kind, None, code), exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_response(exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    log.exception("unhandled error in request %s", request_id)
    message = f"Internal server error (request id {request_id})."
    body = error_body(message, "server_error", None, "internal_error")
    return JSONResponse(body, 500, headers={"x-request-id": request_id})


def install_error_handlers(app: FastAPI) -> None:
    """Register one handler per error base class."""
    app.add_exception_handler(ThinkrouteError, _thinkroute_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
