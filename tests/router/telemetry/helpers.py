"""A router over scripted backends with in-memory span and metric exporters, for telemetry tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from router.api import create_app
from router.backends.base import Backend
from router.backends.scripted import ScriptedBackend
from router.policy.schema import Policy, TelemetryConfig
from router.telemetry import Telemetry

PRICE = 0.001
PROMPT = "What is 6 times 7?"
POLICY: dict[str, Any] = {
    "backends": {"local": {"type": "local"}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 32},
        "vote": {
            "type": "best_of_n", "backend": "local", "max_tokens": 16, "n_values": [8], "wave_size": 4,
            "min_samples": 2, "verifier": "vote", "temperature": 0.8,
            "stopping": [{"rule": "beta", "params": {"confidence": 0.95}}],
        },
    },
    "routes": {
        "auto": {"strategies": ["single"], "default_max_tokens": 32},
        "vote": {"strategies": ["vote"], "default_max_tokens": 16, "slo": {"latency_ms": 60000}},
    },
    "classifier": {"enabled": False},
}  # fmt: skip


def policy(**telemetry: Any) -> Policy:
    """The test policy, with ``telemetry`` settings."""
    return Policy.model_validate({**POLICY, "telemetry": telemetry})


def chat(model: str = "auto", content: str = PROMPT, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


@contextmanager
def captured(**config: Any) -> Iterator[tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]]:
    """A recording Telemetry with in-memory exporters (traces on unless ``config`` says otherwise)."""
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = Telemetry.create(
        TelemetryConfig(**{"traces": True, **config}), metric_reader=reader, span_exporter=spans
    )  # fmt: skip
    try:
        yield telemetry, spans, reader
    finally:
        telemetry.shutdown()


BackendMaker = Callable[[str, Any], Backend]


def scripted(responses: Any = ("#### 42",)) -> BackendMaker:
    return lambda name, config: ScriptedBackend(
        list(responses) if not callable(responses) else responses, name=name, price_per_token=PRICE
    )


@asynccontextmanager
async def served(telemetry: Telemetry, backend: BackendMaker | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of a router app using ``telemetry``."""
    app = create_app(policy(), backend_factories={"local": backend or scripted()}, telemetry=telemetry)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def by_name(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def children(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    parent_id = parent.context.span_id
    return sorted((s for s in spans if s.parent is not None and s.parent.span_id == parent_id),
                  key=lambda s: s.start_time or 0)  # fmt: skip


def tree(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], root: ReadableSpan) -> Any:
    """``(name, [subtrees])`` for ``root``, children in start order."""
    return (root.name, [tree(spans, child) for child in children(spans, root)])
