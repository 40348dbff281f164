"""Requests that fail or fall back still account for what they spent, and every budget refusal is counted.

Telemetry (metrics, the request span, the log line) records the metered spend of failed upstream calls
and abandoned plans, the same amount budgets charge; online feedback credits the candidate that ran.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from router.api import create_app
from router.backends.base import GenerationRequest, GenerationResult, Usage
from router.backends.scripted import ScriptedBackend
from router.budgets.stores import StoreUnavailable
from router.errors import UpstreamUnavailable
from router.policy import parse_policy
from tests.router.telemetry.helpers import by_name, captured

ADMIN = "admin-ACCOUNTING-key-0123456789"
PRICE = 0.01  # per (whitespace) token
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is two plus two?"}], "max_tokens": 4}
POLICY = {
    "backends": {"local": {"type": "local", "price": {"input_per_mtok": 10000, "output_per_mtok": 10000}}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 8},
        "vote": {"type": "best_of_n", "backend": "local", "max_tokens": 8, "n_values": [8], "wave_size": 4,
                 "stopping": []},
        "pair": {"type": "best_of_n", "backend": "local", "max_tokens": 8, "n_values": [2], "wave_size": 2,
                 "stopping": []},
    },
    "routes": {"auto": {"strategies": ["single", "vote"], "fallback_strategies": ["pair"]}},
    "classifier": {"enabled": False},
    "online_feedback": {"enabled": True},
    "budgets": {"allow_anonymous": False, "key_prefix": "accounting"},
    "tenants": {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 5.0}]}},
}  # fmt: skip


class _Flaky(ScriptedBackend):
    """Fails the calls whose index is in ``failing``; remembers what the others cost."""

    def __init__(self) -> None:
        super().__init__(["#### 4"], price_per_token=PRICE)
        self.failing: set[int] | None = None  # None: every call after the first
        self.spent = Usage()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        index = len(self.calls)
        if (index > 0) if self.failing is None else (index in self.failing):
            self.calls.append(request)
            raise UpstreamUnavailable("upstream 500", backend=self.name)
        result = await super().generate(request)
        self.spent = self.spent + result.usage
        return result


Served = tuple[FastAPI, httpx.AsyncClient, _Flaky, InMemorySpanExporter]


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    monkeypatch.delenv("THINKROUTE_REDIS_URL", raising=False)
    backend = _Flaky()
    with captured() as (telemetry, spans, _):
        app = create_app(parse_policy(POLICY), backend_factories={"local": lambda n, c: backend}, telemetry=telemetry)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield app, c, backend, spans


async def _key(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/admin/tenants/acme/keys", headers={"authorization": f"Bearer {ADMIN}"})
    return {"authorization": f"Bearer {response.json()['key']}"}


async def _samples(client: httpx.AsyncClient, name: str) -> dict[frozenset[tuple[str, str]], float]:
    text = (await client.get("/metrics")).text
    return {frozenset(s.labels.items()): s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == name}  # fmt: skip


def _only(samples: dict[frozenset[tuple[str, str]], float], **labels: str) -> float:
    return sum(v for k, v in samples.items() if set(labels.items()) <= k)


async def test_a_failed_request_records_what_it_spent(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    _, client, backend, spans = served
    caplog.set_level(logging.INFO, "thinkroute.request")
    headers = {**await _key(client), "x-thinkroute-strategy": "vote"}
    failed = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert failed.status_code == 502  # wave 2 failed, and so did the fallback
    spent = backend.spent
    assert spent.cost_usd > 0
    cost = await _samples(client, "thinkroute_cost_usd_total")
    tokens = await _samples(client, "thinkroute_tokens_total")
    assert _only(cost, tenant="acme") == pytest.approx(spent.cost_usd)
    assert _only(tokens, tenant="acme", type="input") == spent.prompt_tokens
    assert _only(tokens, tenant="acme", type="output") == spent.completion_tokens
    (root,) = by_name(spans.get_finished_spans(), "thinkroute.request")
    assert root.attributes is not None and root.attributes["thinkroute.cost_usd"] == pytest.approx(spent.cost_usd)
    (line,) = [r for r in caplog.records if r.name == "thinkroute.request"]
    assert line.__dict__["cost_usd"] == pytest.approx(spent.cost_usd)
    window = (await client.get("/admin/tenants/acme/spend", headers={"authorization": f"Bearer {ADMIN}"})).json()
    assert window["windows"][0]["spent"] == pytest.approx(spent.cost_usd)  # the same amount budgets charged


async def test_a_fallback_records_both_plans_spend_and_credits_the_candidate_that_ran(served: Served) -> None:
    app, client, backend, _ = served
    backend.failing = {1}  # vote's second wave fails; the fallback (pair) succeeds
    headers = {**await _key(client), "x-thinkroute-strategy": "vote"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status_code == 200 and response.headers["x-thinkroute-fallback-from"] == "vote"
    assert response.headers["x-thinkroute-strategy"] == "pair"
    cost = await _samples(client, "thinkroute_cost_usd_total")
    assert _only(cost, tenant="acme") == pytest.approx(backend.spent.cost_usd)  # vote's first wave + pair
    assert backend.spent.cost_usd > float(response.headers["x-thinkroute-cost-usd"])
    credited = set(app.state.runtime.online.snapshot())
    assert credited and all(key.startswith("pair") for key in credited), credited


async def test_a_planner_refusal_for_budget_is_counted(served: Served) -> None:
    _, client, _, _ = served
    await client.put("/admin/tenants/acme/limits", headers={"authorization": f"Bearer {ADMIN}"},
                     json={"limits": [{"kind": "usd", "window": "day", "limit": 0.000001}]})  # fmt: skip
    refused = await client.post("/v1/chat/completions", json=CHAT, headers=await _key(client))
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "budget_exceeded"
    rejections = await _samples(client, "thinkroute_budget_rejections_total")
    assert _only(rejections, tenant="acme", reason="budget_exceeded") == 1


async def test_a_fail_closed_503_is_counted_and_the_outage_exported(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, _, _ = served
    headers = await _key(client)

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("connection refused", sent=False)

    monkeypatch.setattr(app.state.budgets.store, "reserve", down)
    refused = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert refused.status_code == 503
    rejections = await _samples(client, "thinkroute_budget_rejections_total")
    assert _only(rejections, tenant="acme", reason="service_unavailable") == 1
    events = await _samples(client, "thinkroute_budget_store_events_total")
    assert _only(events, event="fail_closed") == 1 and _only(events, event="store_errors") >= 1
