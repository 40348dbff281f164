"""``/metrics`` parses as Prometheus text and moves by exactly what was served; the dashboard and its data."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.api import create_app
from router.telemetry import Telemetry
from tests.router.telemetry.helpers import captured, chat, policy, scripted, served

Key = tuple[str, frozenset[tuple[str, str]]]
TOO_FAST = {"x-thinkroute-latency-ms": "0.01"}  # no strategy can meet it: 422


def _scrape(text: str) -> dict[Key, float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _delta(before: dict[Key, float], after: dict[Key, float], name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in after, f"{name}{labels} not exported"
    return after[key] - before.get(key, 0.0)


async def _metrics(client: httpx.AsyncClient) -> dict[Key, float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return _scrape(response.text)


def _usage_of_stream(text: str) -> dict[str, Any]:
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    return next(e["usage"] for e in events if e.get("usage"))


async def test_metrics_parse_and_counters_move_by_the_right_amounts() -> None:
    with captured(traces=False) as (telemetry, _, _):
        async with served(telemetry) as client:
            before = await _metrics(client)
            singles = [await client.post("/v1/chat/completions", json=chat()) for _ in range(2)]
            vote = await client.post("/v1/chat/completions", json=chat("vote"))
            stream = await client.post(
                "/v1/chat/completions", json=chat(stream=True, stream_options={"include_usage": True})
            )
            missing = await client.post("/v1/chat/completions", json=chat("nope"))
            refused = await client.post("/v1/chat/completions", json=chat(), headers=TOO_FAST)
            after = await _metrics(client)
    assert [r.status_code for r in (*singles, vote, stream, missing, refused)] == [200, 200, 200, 200, 404, 422]
    auto, bon = {"route": "auto", "strategy": "single"}, {"route": "vote", "strategy": "vote"}

    assert _delta(before, after, "thinkroute_requests_total", **auto, status="200") == 3
    assert _delta(before, after, "thinkroute_requests_total", **bon, status="200") == 1
    assert _delta(before, after, "thinkroute_requests_total", route="none", strategy="none", status="404") == 1
    assert _delta(before, after, "thinkroute_requests_total", route="auto", strategy="none", status="422") == 1
    errors = "thinkroute_request_errors_total"
    assert _delta(before, after, errors, route="none", error_type="model_not_found") == 1
    assert _delta(before, after, errors, route="auto", error_type="slo_unsatisfiable") == 1
    assert _delta(before, after, "thinkroute_decisions_total", **bon, bucket="medium",
                  rule="cheapest_meeting_quality") == 1  # fmt: skip

    usages = [r.json()["usage"] for r in singles] + [_usage_of_stream(stream.text)]
    tokens = {"tenant": "anonymous", **auto}
    assert _delta(before, after, "thinkroute_tokens_total", **tokens, type="input") == sum(
        u["prompt_tokens"] for u in usages
    )
    assert _delta(before, after, "thinkroute_tokens_total", **tokens, type="output") == sum(
        u["completion_tokens"] for u in usages
    )
    assert _delta(before, after, "thinkroute_tokens_total", **{**tokens, **bon}, type="output") == 8
    cost = sum(float(r.headers["x-thinkroute-cost-usd"]) for r in singles)
    assert _delta(before, after, "thinkroute_cost_usd_total", **tokens) == pytest.approx(cost + 7 * 0.001)
    assert _delta(before, after, "thinkroute_cost_usd_total", tenant="anonymous", **bon) == pytest.approx(
        float(vote.headers["x-thinkroute-cost-usd"])
    )

    assert _delta(before, after, "thinkroute_samples_per_request_count", **bon) == 1
    assert _delta(before, after, "thinkroute_samples_per_request_sum", **bon) == 4
    assert _delta(before, after, "thinkroute_samples_saved_total", **bon) == 4
    assert _delta(before, after, "thinkroute_stop_reasons_total", **bon, reason="beta") == 1
    assert _delta(before, after, "thinkroute_stop_reasons_total", **auto, reason="single") == 3
    assert _delta(before, after, "thinkroute_request_duration_seconds_count", **auto) == 3
    assert _delta(before, after, "thinkroute_time_to_first_token_seconds_count", **auto) == 1
    assert _delta(before, after, "thinkroute_slo_requests_total", **bon, met="true") == 1
    assert _delta(before, after, "thinkroute_latency_slo_ratio_count", **bon) == 1
    assert _delta(before, after, "thinkroute_classifier_duration_seconds_count") == 5  # all but the 404
    assert _delta(before, after, "thinkroute_planner_duration_seconds_count") == 4  # the refused plan raised
    assert after[("thinkroute_requests_in_flight", frozenset())] == 0


async def test_dashboard_page_assets_and_data() -> None:
    with captured(traces=False) as (telemetry, _, _):
        async with served(telemetry) as client:
            page = await client.get("/dashboard")
            script = await client.get("/dashboard/dashboard.js")
            style = await client.get("/dashboard/dashboard.css")
            unknown = await client.get("/dashboard/secrets.txt")
            for _ in range(3):
                assert (await client.post("/v1/chat/completions", json=chat())).status_code == 200
            assert (await client.post("/v1/chat/completions", json=chat("vote"))).status_code == 200
            refused = await client.post("/v1/chat/completions", json=chat(), headers=TOO_FAST)
            data = (await client.get("/dashboard/data")).json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/dashboard/dashboard.js"' in page.text and "<canvas" in page.text
    assert script.headers["content-type"].startswith("text/javascript") and "/dashboard/data" in script.text
    assert style.headers["content-type"].startswith("text/css")
    assert unknown.status_code == 404 and refused.status_code == 422

    assert data["totals"]["requests"] == 5 and data["totals"]["errors"] == 1
    assert data["routing_mix"] == [{"strategy": "single", "requests": 3}, {"strategy": "vote", "requests": 1}]
    assert data["routing_by_bucket"] == {"medium": {"single": 3, "vote": 1}}
    (tenant,) = data["spend_by_tenant"]
    assert tenant["tenant"] == "anonymous" and tenant["requests"] == 5
    assert tenant["cost_usd"] == pytest.approx(3 * 7 * 0.001 + 13 * 0.001)
    latency = data["latency_ms"]
    assert latency["count"] == 4 and 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert len(latency["recent"]) == 4
    assert data["totals"]["samples_saved"] == 4 and data["stop_reasons"] == {"single": 3, "beta": 1}
    newest, vote = data["recent"][0], data["recent"][1]
    assert newest["status"] == 422 and newest["rule"] == "slo_unsatisfiable"
    assert newest["explanation"]["candidates"][0]["why_not"]
    assert vote["strategy"] == "vote" and vote["samples"] == 4 and vote["samples_max"] == 8
    assert vote["explanation"]["chosen"]["strategy"] == "vote"
    assert vote["explanation"]["candidates"][0]["eligible"] is True


async def test_each_app_builds_its_own_telemetry_from_the_policy() -> None:
    apps = [create_app(policy(), backend_factories={"local": scripted()}) for _ in range(2)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        first, second = (a.state.telemetry for a in apps)
        assert isinstance(first, Telemetry) and first is not second
        transport = httpx.ASGITransport(app=apps[0])
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/v1/chat/completions", json=chat())).status_code == 200
        assert b'thinkroute_requests_total{route="auto"' in first.prometheus_text()
        assert b"thinkroute_requests_total" not in second.prometheus_text()
