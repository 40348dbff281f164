"""What observability costs per request: no-op telemetry vs metrics + JSON log line vs full tracing.

Three apps over the same scripted backend (answers at once, so the router's own work dominates)
are driven in-process through the ASGI interface, interleaved in rounds so that noise hits each
alike. ``traces`` records every span (sample ratio 1) into an exporter that drops them, so span
creation and processing count but export does not. Also times a ``/metrics`` scrape.

    taskset -c 0 .venv/bin/python benchmarks/telemetry_overhead.py
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from router.api import create_app
from router.backends.scripted import ScriptedBackend
from router.policy.schema import Policy, TelemetryConfig
from router.telemetry import Telemetry, configure_logging

ROUNDS, PER_ROUND = 20, 50
POLICY: dict[str, Any] = {
    "backends": {"local": {"type": "local"}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 32},
        "vote": {"type": "best_of_n", "backend": "local", "max_tokens": 16, "n_values": [8], "wave_size": 4,
                 "min_samples": 2, "verifier": "vote", "stopping": [{"rule": "beta", "params": {"confidence": 0.95}}]},
    },
    "routes": {"auto": {"strategies": ["single"]}, "vote": {"strategies": ["vote"]}},
    "classifier": {"enabled": False},
}  # fmt: skip


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def _run(configs: dict[str, Telemetry], route: str) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in configs}
    body = {"model": route, "messages": [{"role": "user", "content": "What is 6 times 7?"}]}
    clients = {}
    async with AsyncExitStack() as stack:
        for name, telemetry in configs.items():
            factories = {"local": lambda n, c: ScriptedBackend(["#### 42"], name=n)}
            app = create_app(Policy.model_validate(POLICY), telemetry=telemetry, backend_factories=factories)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients[name] = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://b"))
        for client in clients.values():  # warm-up
            for _ in range(20):
                (await client.post("/v1/chat/completions", json=body)).raise_for_status()
        for _ in range(ROUNDS):
            for name, client in clients.items():
                for _ in range(PER_ROUND):
                    started = time.perf_counter()
                    response = await client.post("/v1/chat/completions", json=body)
                    timings[name].append((time.perf_counter() - started) * 1e6)
                    response.raise_for_status()
    return timings


def main() -> None:
    configure_logging("info", stream=io.StringIO())  # the per-request JSON line is formatted, then discarded
    results: dict[str, Any] = {}
    rows = []
    for route in ("auto", "vote"):
        configs = {
            "noop": Telemetry.noop(),
            "metrics+logs": Telemetry.create(TelemetryConfig()),
            "traces": Telemetry.create(TelemetryConfig(traces=True), span_exporter=_Drop()),
        }
        timings = asyncio.run(_run(configs, route))
        base = statistics.median(timings["noop"])
        for name, values in timings.items():
            p50 = statistics.median(values)
            rows.append((route, name, p50, statistics.mean(values), p50 - base))
            results[f"{route}_{name}_p50_us"] = round(p50, 1)
            results[f"{route}_{name}_overhead_us"] = round(p50 - base, 1)
        scrape = configs["metrics+logs"]
        started = time.perf_counter()
        for _ in range(100):
            scrape.prometheus_text()
        results[f"{route}_scrape_ms"] = round((time.perf_counter() - started) * 10, 3)
    print(f"{'route':<6}{'telemetry':<14}{'p50 µs':>10}{'mean µs':>10}{'vs noop µs':>12}")
    for route, name, p50, mean, over in rows:
        print(f"{route:<6}{name:<14}{p50:>10.1f}{mean:>10.1f}{over:>12.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
