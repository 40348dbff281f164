"""JSON logs: one line per request with ids and cost; tracebacks only in logs; no key ever leaks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from router.backends.base import GenerationRequest
from router.errors import UpstreamUnavailable
from router.telemetry import configure_logging
from tests.router.telemetry.helpers import by_name, captured, chat, scripted, served

BEARER = "sk-test-SECRET-4f9a1c7e2b8d6a3f"
PROVIDER_KEY = "acme-prov-7f3c9e1d2b4a6f8e0c1d5a"  # no well-known shape: caught as an env secret's value


@contextmanager
def logging_to(level: str = "info", fmt: str = "json") -> Iterator[io.StringIO]:
    """Root logging through configure_logging into a buffer; restored afterwards."""
    stream, root = io.StringIO(), logging.getLogger()
    previous = root.level
    handler = configure_logging(level, fmt=fmt, stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    with logging_to() as stream:
        yield stream


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _responder(request: GenerationRequest, index: int) -> str:
    text = request.messages[-1].content
    if "upstream" in text:
        raise UpstreamUnavailable(f"provider refused api_key={PROVIDER_KEY} (401)", backend="local")
    if "crash" in text:
        raise RuntimeError(f"bug while sending Authorization: Bearer {BEARER} with {PROVIDER_KEY}")
    return "#### 42"


async def test_one_json_line_per_request_with_ids_route_strategy_status_latency_cost(
    log_lines: io.StringIO,
) -> None:
    with captured() as (telemetry, spans, _):
        async with served(telemetry) as client:
            ok = await client.post("/v1/chat/completions", json=chat("vote"))
            missing = await client.post("/v1/chat/completions", json=chat("nope"))
        roots = sorted(by_name(spans.get_finished_spans(), "thinkroute.request"), key=lambda s: s.start_time or 0)
    lines = [r for r in _records(log_lines) if r["logger"] == "thinkroute.request"]
    assert len(lines) == 2
    first, second = lines
    assert first["request_id"] == ok.headers["x-request-id"] and second["request_id"] == missing.headers["x-request-id"]
    assert first["trace_id"] == f"{roots[0].context.trace_id:032x}"
    assert first["route"] == "vote" and first["strategy"] == "vote" and first["status"] == 200
    assert first["level"] == "info" and first["latency_ms"] > 0
    assert first["cost_usd"] == pytest.approx(float(ok.headers["x-thinkroute-cost-usd"]))
    assert first["samples"] == 4 and first["stop_reason"] == "beta" and first["deadline_met"] is True
    assert second["status"] == 404 and second["error_type"] == "model_not_found" and second["route"] is None


async def test_trace_ids_are_logged_even_with_traces_off(log_lines: io.StringIO) -> None:
    with captured(traces=False) as (telemetry, spans, _):
        async with served(telemetry) as client:
            assert (await client.post("/v1/chat/completions", json=chat())).status_code == 200
        assert spans.get_finished_spans() == ()
    (line,) = [r for r in _records(log_lines) if r["logger"] == "thinkroute.request"]
    assert len(line["trace_id"]) == 32 and int(line["trace_id"], 16) != 0


async def test_tracebacks_go_to_logs_only(log_lines: io.StringIO) -> None:
    with captured() as (telemetry, _, _):
        async with served(telemetry, scripted(_responder)) as client:
            response = await client.post("/v1/chat/completions", json=chat(content="please crash"))
    assert response.status_code == 500 and "Traceback" not in response.text
    assert response.json()["error"]["code"] == "internal_error"
    tracebacks = [r for r in _records(log_lines) if "traceback" in r]
    assert tracebacks and "RuntimeError" in tracebacks[0]["traceback"]
    (line,) = [r for r in _records(log_lines) if r["logger"] == "thinkroute.request"]
    assert line["status"] == 500 and line["level"] == "warning" and line["error_type"] == "RuntimeError"


async def test_no_key_reaches_logs_spans_or_error_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_PROVIDER_API_KEY", PROVIDER_KEY)  # as a deployment would, before start
    auth = {"authorization": f"Bearer {BEARER}", "x-api-key": PROVIDER_KEY}
    bodies: list[str] = []
    with logging_to() as log_lines, captured(record_content=True) as (telemetry, spans, _):
        async with served(telemetry, scripted(_responder)) as client:
            for content in ("hello", f"my key is {BEARER} and {PROVIDER_KEY}", "upstream please", "crash now"):
                response = await client.post("/v1/chat/completions", json=chat(content=content), headers=auth)
                bodies.append(response.text)
            stream = await client.post("/v1/chat/completions", json=chat(content="upstream", stream=True), headers=auth)
            bodies.append(stream.text)
        dumped_spans = "".join(s.to_json() for s in spans.get_finished_spans())
    logs = log_lines.getvalue()
    assert '"status":502' in logs and '"status":500' in logs and "traceback" in logs  # the run did fail
    assert "[REDACTED]" in dumped_spans and "[REDACTED]" in logs  # content with keys was recorded, redacted
    for secret in (BEARER, PROVIDER_KEY, BEARER[8:]):
        assert secret not in logs
        assert secret not in dumped_spans
        assert all(secret not in body for body in bodies)


def test_log_level_is_configurable_and_text_format_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_PROVIDER_API_KEY", PROVIDER_KEY)
    with logging_to("warning", fmt="text") as stream:
        log = logging.getLogger("thinkroute.test")
        log.info("hidden at warning level")
        log.warning("calling upstream with %s and Bearer %s", PROVIDER_KEY, BEARER)
        try:
            raise ValueError(f"bad key {PROVIDER_KEY}")
        except ValueError:
            log.exception("failed")
    text = stream.getvalue()
    assert "hidden" not in text and "calling upstream with [REDACTED] and Bearer [REDACTED]" in text
    assert "ValueError: bad key [REDACTED]" in text
    assert PROVIDER_KEY not in text and BEARER not in text
