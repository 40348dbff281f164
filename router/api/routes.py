"""The HTTP layer of the OpenAI-compatible API and the probes; logic lives in ``serving``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from router.api.errors import error_body
from router.api.protocol import ChatCompletionRequest
from router.api.serving import ChatService, PreparedChat
from router.errors import SLOUnsatisfiable, ThinkrouteError
from router.runtime import Runtime
from router.telemetry import current_outcome

__all__ = ["api_router"]

api_router = APIRouter()


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
async def chat_completions(body: ChatCompletionRequest, request: Request) -> JSONResponse | StreamingResponse:
    """OpenAI chat completions; ``stream: true`` answers with server-sent events."""
    service = _service(request)
    tenant = await request.app.state.budgets.authenticate(request.headers.get("authorization"))
    prepared = await service.prepare(body, request.headers, request.state.request_id, tenant)
    if body.stream:
        return StreamingResponse(
            _guarded_stream(service, prepared),
            media_type="text/event-stream",
            headers={**prepared.headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    payload = await service.complete(prepared)
    return JSONResponse(payload, headers=prepared.headers)


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


async def _guarded_stream(service: ChatService, prepared: PreparedChat) -> AsyncIterator[str]:
    """Once the stream has started, errors become an SSE error event instead of a broken connection."""
    try:
        async for line in service.stream(prepared):
            yield line
    except ThinkrouteError as exc:
        import json

        current_outcome().error_type = exc.code or exc.error_type
        yield f"data: {json.dumps(error_body(exc.message, exc.error_type, exc.param, exc.code))}\n\n"
        yield "data: [DONE]\n\n"
    finally:  # also on client disconnect: charge what was spent, release the rest
        with contextlib.suppress(Exception):
            await asyncio.shield(service.settle(prepared))
