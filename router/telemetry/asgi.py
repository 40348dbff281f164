"""Pure ASGI middleware: the ``thinkroute.request`` span, the request's outcome, metrics and log line.

It wraps the whole response (a stream included), so latency is end to end and errors turned into
responses by the exception handlers are counted with their status and error code. The client's
W3C ``traceparent``/``tracestate`` are continued.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from router.telemetry.attributes import request_attributes
from router.telemetry.context import bind, unbind
from router.telemetry.core import Telemetry
from router.telemetry.logs import log_request
from router.telemetry.outcome import RequestOutcome

__all__ = ["TelemetryMiddleware"]

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]
_PROPAGATOR = TraceContextTextMapPropagator()
# path -> (span name, whether it is a chat request: metrics, dashboard and log line)
_TRACED = {"/v1/chat/completions": ("thinkroute.request", True), "/v1/route/explain": ("thinkroute.explain", False)}
_MAX_ERROR_BODY = 65_536


class TelemetryMiddleware:
    """Traces and accounts ``POST /v1/chat/completions`` (and traces ``/v1/route/explain``)."""

    def __init__(self, app: ASGIApp, telemetry: Callable[[], Telemetry | None]) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        is_post = scope["type"] == "http" and scope.get("method") == "POST"
        traced = _TRACED.get(scope.get("path", "")) if is_post else None
        telemetry = self.telemetry() if traced is not None else None
        if traced is None or telemetry is None:
            await self.app(scope, receive, send)
            return
        await self._traced(scope, receive, send, telemetry, *traced)

    async def _traced(self, scope: Scope, receive: Any, send: Any, tel: Telemetry, name: str, chat: bool) -> None:
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
                   if k in (b"traceparent", b"tracestate")}  # fmt: skip
        request_id = str(scope.get("state", {}).get("request_id", ""))
        outcome = RequestOutcome(request_id=request_id)
        status = 500
        error_body = bytearray()

        async def observing_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status >= 400 and len(error_body) < _MAX_ERROR_BODY:
                error_body.extend(message.get("body", b""))
            await send(message)

        if chat:
            tel.in_flight(1)
        with tel.tracer.start_as_current_span(
            name, context=_PROPAGATOR.extract(carrier), kind=SpanKind.SERVER,
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            token = bind(tel, outcome)
            try:
                await self.app(scope, receive, observing_send)
            except BaseException as exc:
                outcome.error_type = outcome.error_type or type(exc).__name__
                raise
            finally:
                unbind(token)
                outcome.finish(status)
                if status >= 400:
                    _note_error(outcome, bytes(error_body), status)
                if span.is_recording():
                    span.set_attributes(tel.clean(request_attributes(outcome)))
                if status >= 500 or (outcome.error_type is not None and status < 400):
                    span.set_status(Status(StatusCode.ERROR, outcome.error_type))
                if chat:
                    tel.in_flight(-1)
                    tel.record_request(outcome)
                    log_request(outcome, span.get_span_context())


def _note_error(outcome: RequestOutcome, body: bytes, status: int) -> None:
    """Error code (and, for a refused plan, the planner's explanation) from an OpenAI-shaped error body."""
    try:
        error = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    if outcome.error_type is None:
        outcome.error_type = str(error.get("code") or error.get("type") or f"http_{status}")
    details = error.get("details")
    decision = details.get("decision") if isinstance(details, dict) else None
    if isinstance(decision, dict) and not outcome.explanation and outcome.decision is None:
        outcome.explanation = decision
        outcome.rule = str(decision.get("rule", "")) or None
