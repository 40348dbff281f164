"""What budgets cost per request: authenticate + reserve + settle, in-process store vs Redis, side by side.

A team tenant under an org (a USD/day limit each, RPM and TPM on the team, plus the recording-only
meters: 10 meters per request), one key. Sequential latency (p50/p99, interleaved rounds) and
throughput with 64 requests in flight, in one process. Redis: THINKROUTE_TEST_REDIS_URL or
redis://127.0.0.1:6379/15, under a throwaway key prefix that is deleted afterwards.

    .venv/bin/python benchmarks/budgets.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any

from router.budgets import BudgetService, Cost
from router.policy import parse_policy

REDIS_URL = os.environ.get("THINKROUTE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TENANTS = {
    "org": {"limits": [{"kind": "usd", "window": "month", "limit": 1e6}]},
    "team": {"parent": "org", "limits": [{"kind": "usd", "window": "day", "limit": 1e6}], "rpm": 10**9,
             "tpm": 10**12},
}  # fmt: skip
BASE = {
    "backends": {"local": {"type": "local"}},
    "strategies": {"single": {"type": "single_pass", "backend": "local"}},
    "routes": {"auto": {"strategies": ["single"]}},
    "classifier": {"enabled": False},
}
ROUNDS, PER_ROUND, CONCURRENT, CONCURRENT_TOTAL = 10, 200, 64, 4000


def _service(store: str, prefix: str) -> BudgetService:
    budgets: dict[str, Any] = {"key_prefix": prefix, "allow_anonymous": False}
    if store == "redis":
        budgets |= {"store": "redis", "redis_url": REDIS_URL}
    return BudgetService.create(parse_policy({**BASE, "tenants": TENANTS, "budgets": budgets}))


async def _one(service: BudgetService, header: str) -> None:
    tenant = await service.authenticate(header)
    ticket = await service.reserve(tenant, Cost(usd=0.002, tokens=900))
    await service.settle(ticket, Cost(usd=0.0007, tokens=310))


async def _sequential(service: BudgetService, header: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter_ns()
        await _one(service, header)
        samples.append((time.perf_counter_ns() - started) / 1000.0)
    return samples


async def _throughput(service: BudgetService, header: str) -> float:
    remaining = CONCURRENT_TOTAL

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await _one(service, header)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENT)))
    return CONCURRENT_TOTAL / (time.perf_counter() - started)


async def main() -> None:
    prefix = "bench-" + uuid.uuid4().hex[:8]
    services = {name: _service(name, prefix) for name in ("memory", "redis")}
    headers = {}
    for name, service in services.items():
        key, _ = await service.keys.create("team")
        headers[name] = f"Bearer {key}"
        await _sequential(service, headers[name], 100)  # warm-up: connections, scripts
    samples: dict[str, list[float]] = {name: [] for name in services}
    for _ in range(ROUNDS):  # interleaved, so load from elsewhere on the box hits both alike
        for name, service in services.items():
            samples[name] += await _sequential(service, headers[name], PER_ROUND)
    rates = {name: await _throughput(service, headers[name]) for name, service in services.items()}
    results = {}
    print(f"{'store':8} {'p50 µs':>9} {'p99 µs':>9} {'req/s @64':>10}")
    for name in services:
        q = statistics.quantiles(samples[name], n=100)
        results[name] = {"p50_us": round(q[49], 1), "p99_us": round(q[98], 1), "req_per_s": round(rates[name])}
        print(f"{name:8} {q[49]:9.1f} {q[98]:9.1f} {rates[name]:10.0f}")
    spend = await services["redis"].spend("team")
    day = next(w for w in spend["windows"] if w["kind"] == "usd" and w["window"] == "day")
    done = 100 + ROUNDS * PER_ROUND + CONCURRENT_TOTAL
    assert round(day["spent"] * 1e6) == done * 700 and day["reserved"] == 0, "exact after the run"
    client = services["redis"].keys._records._link.client  # type: ignore[attr-defined]
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)
    for service in services.values():
        await service.aclose()
    ratio = results["redis"]["p50_us"] / results["memory"]["p50_us"]
    print(json.dumps({"benchmark": "budgets", "meters_per_request": 10, **{f"{k}_{m}": v for k, r in results.items()
                                                                           for m, v in r.items()},
                      "redis_vs_memory_p50_ratio": round(ratio, 2)}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
