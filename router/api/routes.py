"""The HTTP layer of the OpenAI-compatible API and the probes; logic lives in ``serving``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Coroutine
from typing import Any, TypeVar, cast

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from router.api.errors import error_body
from router.api.protocol import ChatCompletionRequest
from router.api.serving import ChatService, PreparedChat
from router.errors import SLOUnsatisfiable, ThinkrouteError
from router.runtime import Runtime

__all__ = ["SettlingStream", "api_router"]

log = logging.getLogger("thinkroute")

api_router = APIRouter()
T = TypeVar("T")


def _service(request: Request) -> ChatService:
    service: ChatService = request.app.state.chat_service
    return service


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@api_router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves HTTP."""
    return {"status": "ok"}


@api_router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 503 until every backend of the policy has loaded."""
    runtime = _runtime(request)
    if not runtime.ready:
        loading = [name for name, b in runtime.backends.items() if not getattr(b, "ready", True)]
        return JSONResponse({"status": "loading", "backends": loading}, status_code=503)
    return JSONResponse({"status": "ready", "policy_version": runtime.version})


@api_router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    """The policy's routes, as OpenAI models."""
    runtime = _runtime(request)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "thinkroute", "description": route.description}
        for name, route in runtime.policy.routes.items()
    ]
    return {"object": "list", "data": data}


@api_router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    """OpenAI chat completions; ``stream: true`` answers with server-sent events."""
    service = _service(request)
    tenant = await request.app.state.budgets.authenticate(request.headers.get("authorization"))
    prepared = await service.prepare(body, request.headers, request.state.request_id, tenant)
    if body.stream:
        return SettlingStream(service, prepared)
    payload = await _unless_disconnected(request, service.complete(prepared))
    if payload is None:  # the client went away: its samples were cancelled and what they spent settled
        prepared.outcome.error_type = "client_disconnected"
        return Response(status_code=499)
    return JSONResponse(payload, headers=prepared.headers)


async def _unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T | None:
    """Run ``work``; cancel it (its in-flight backend calls too) when the client disconnects: ``None``.

    ``work`` runs in the handler's own task (no task to create per request); a watcher task cancels
    that task when ``http.disconnect`` arrives, and the cancellation it caused is withdrawn here.
    """
    task = asyncio.current_task()
    assert task is not None
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        while (await request.receive())["type"] != "http.disconnect":
            pass
        disconnected = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        result = await work
    except asyncio.CancelledError:
        if disconnected and task.uncancel() == 0:
            return None  # cancelled by the watcher, not by the server
        raise
    finally:
        watcher.cancel()
    if disconnected:  # ``work`` absorbed the watcher's cancellation
        task.uncancel()
    return result


@api_router.post("/v1/route/explain")
async def route_explain(body: ChatCompletionRequest, request: Request) -> JSONResponse:
    """The decision for a chat request (difficulty, every candidate, the choice and its rule), not executed."""
    service = _service(request)
    tenant = await request.app.state.budgets.authenticate(request.headers.get("authorization"))
    try:
        _, _, _, difficulty, decision = await service.decide(body, request.headers, tenant)
    except SLOUnsatisfiable as exc:
        payload = dict(cast(dict[str, Any], exc.details["decision"]))
        payload["error"] = error_body(exc.message, exc.error_type, exc.param, exc.code)["error"]
        return JSONResponse(payload)
    payload = decision.to_json()
    payload.update(bucket=difficulty.bucket, probabilities=difficulty.probabilities, route=body.model)
    return JSONResponse(payload, headers={"x-thinkroute-difficulty": f"{difficulty.difficulty:.3f}"})


class SettlingStream(StreamingResponse):
    """The SSE response of a chat stream; whatever ends it (completion, error, a client that disconnects
    before or during the stream, a stream never iterated), the response closes the stream and settles
    the reservation before it returns. Settling is idempotent."""

    def __init__(self, service: ChatService, prepared: PreparedChat) -> None:
        self._service, self._prepared = service, prepared
        self._events = _guarded_stream(service, prepared)
        headers = {**prepared.headers, "cache-control": "no-cache", "x-accel-buffering": "no"}
        super().__init__(self._events, media_type="text/event-stream", headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:  # shielded: a cancelled response (disconnect) still settles before it returns
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await self._events.aclose()  # stops the strategy now (not when garbage-collected)
                try:
                    await self._service.finish(self._prepared)
                except Exception:
                    log.exception("settling a streamed request failed")


async def _guarded_stream(service: ChatService, prepared: PreparedChat) -> AsyncGenerator[str, None]:
    """Once the stream has started, errors become an SSE error event instead of a broken connection."""
    try:
        async with contextlib.aclosing(service.stream(prepared)) as lines:  # closed at once when we are
            async for line in lines:
                yield line
    except ThinkrouteError as exc:
        prepared.outcome.error_type = exc.code or exc.error_type
        yield f"data: {json.dumps(error_body(exc.message, exc.error_type, exc.param, exc.code))}\n\n"
        yield "data: [DONE]\n\n"
