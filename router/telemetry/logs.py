"""Structured logs: one JSON object per line, secrets redacted, one summary line per chat request.

Tracebacks appear only here (field ``traceback``), never in responses or span attributes.
``THINKROUTE_LOG_FORMAT=text`` switches to a human-readable (still redacted) format.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import IO, Any

from opentelemetry import trace
from opentelemetry.trace import SpanContext, format_span_id, format_trace_id

from router.telemetry.outcome import RequestOutcome
from router.telemetry.redact import Redactor

__all__ = ["JsonFormatter", "RedactionFilter", "configure_logging", "log_request"]

REQUEST_LOGGER = "thinkroute.request"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_STANDARD.add("color_message")  # uvicorn's ANSI-coloured duplicate of the message
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactionFilter(logging.Filter):
    """Rewrites a record's message and exception text with secrets replaced; never drops a record."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor.from_env()
        self._exc_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = self.redactor(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exc_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra fields, "trace_id", "span_id", "traceback"}``."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor.from_env()

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redactor(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if "trace_id" not in payload:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                payload["trace_id"], payload["span_id"] = _ids(context)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["traceback"] = self.redactor(record.exc_text)
        if record.stack_info:
            payload["stack"] = self.redactor(record.stack_info)
        # one pass over the whole line: extra fields are redacted too (message and traceback already were)
        return self.redactor(json.dumps(payload, default=str, separators=(",", ":")))


def _iso(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


def _ids(context: SpanContext) -> tuple[str, str]:
    return format_trace_id(context.trace_id), format_span_id(context.span_id)


def configure_logging(level: str = "info", *, fmt: str | None = None, stream: IO[str] | None = None) -> logging.Handler:
    """Install one redacting handler on the root logger (replacing an earlier one of ours).

    ``fmt`` is ``json`` (default, or ``THINKROUTE_LOG_FORMAT``) or ``text``.
    """
    fmt = (fmt or os.environ.get("THINKROUTE_LOG_FORMAT") or "json").lower()
    redactor = Redactor.from_env()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    handler.addFilter(RedactionFilter(redactor))
    handler._thinkroute = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_thinkroute", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


def log_request(outcome: RequestOutcome, context: SpanContext | None = None) -> None:
    """The one summary line of a chat request (INFO; WARNING for 5xx)."""
    logger = logging.getLogger(REQUEST_LOGGER)
    level = logging.WARNING if outcome.status_code >= 500 else logging.INFO
    if not logger.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "request_id": outcome.request_id,
        "route": outcome.route,
        "tenant": outcome.tenant_label,
        "strategy": outcome.strategy,
        "status": outcome.status_code,
        "latency_ms": round(outcome.latency_s * 1000.0, 3),
        "cost_usd": round(outcome.cost_usd, 10),
        "difficulty_bucket": outcome.bucket,
        "rule": outcome.rule,
        "samples": outcome.samples,
        "stop_reason": outcome.stop_reason,
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "reasoning_tokens": outcome.reasoning_tokens,
        "stream": outcome.stream,
    }
    if outcome.ttft_s is not None:
        fields["ttft_ms"] = round(outcome.ttft_s * 1000.0, 3)
    if outcome.error_type is not None:
        fields["error_type"] = outcome.error_type
    if outcome.deadline_met is not None:
        fields["deadline_met"] = outcome.deadline_met
    if context is not None and context.is_valid:
        fields["trace_id"], fields["span_id"] = _ids(context)
    message = f"{outcome.route or '-'} {outcome.strategy or '-'} {outcome.status_code}"
    logger.log(level, message, extra=fields)
