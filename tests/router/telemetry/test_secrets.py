"""Tenant keys (declared in the policy or minted by the admin API) and their hashes never reach telemetry:
not span names, attributes, events or statuses, not log lines, not /metrics or the dashboard."""

from __future__ import annotations

import io
import logging

import httpx
import pytest

from router.api import create_app
from router.budgets.keys import hash_key
from router.policy.schema import Policy
from router.telemetry import configure_logging
from tests.router.telemetry.helpers import POLICY, captured, chat, scripted

ADMIN = "admin-SECRETS-key-0123456789abcdef"
DECLARED = "tr-declared-0f1e2d3c4b5a69788796a5b4"  # a key of the policy's own (only its hash is declared)


async def test_tenant_keys_and_their_hashes_never_reach_spans_logs_or_metrics(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    monkeypatch.delenv("THINKROUTE_REDIS_URL", raising=False)
    caplog.set_level(logging.DEBUG)
    tenants = {"acme": {"api_key_hashes": [hash_key(DECLARED)]}, "globex": {}}
    policy = Policy.model_validate({**POLICY, "tenants": tenants, "budgets": {"allow_anonymous": False},
                                    "telemetry": {"traces": True, "record_content": True}})  # fmt: skip
    stream, root = io.StringIO(), logging.getLogger()
    previous = root.level
    handler = configure_logging("debug", stream=stream)
    try:
        with captured(record_content=True) as (telemetry, spans, _):
            app = create_app(policy, backend_factories={"local": scripted()}, telemetry=telemetry)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                           base_url="http://t") as client:  # fmt: skip
                minted = await client.post("/admin/tenants/globex/keys", headers={"authorization": f"Bearer {ADMIN}"})
                assert minted.status_code == 201
                keys = [DECLARED, str(minted.json()["key"])]
                for key in keys:
                    auth = {"authorization": f"Bearer {key}"}
                    assert (await client.post("/v1/chat/completions", json=chat(), headers=auth)).status_code == 200
                    streamed = await client.post("/v1/chat/completions", json=chat(stream=True), headers=auth)
                    assert streamed.status_code == 200
                    assert (await client.post("/v1/route/explain", json=chat(), headers=auth)).status_code == 200
                    wrong = {"authorization": f"Bearer {key}x"}
                    assert (await client.post("/v1/chat/completions", json=chat(), headers=wrong)).status_code == 401
                    await client.post("/v1/chat/completions", json=chat("nope"), headers=auth)  # a 404
                metrics = (await client.get("/metrics")).text
                dashboard = (await client.get("/dashboard/data")).text
            finished = spans.get_finished_spans()
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    assert {s.name for s in finished} >= {"thinkroute.request", "thinkroute.explain", "settle"}
    span_text = "\n".join(s.to_json() for s in finished)
    assert "acme" in span_text and "globex" in span_text  # the tenant ids are recorded, not their keys
    logs = stream.getvalue() + caplog.text
    assert "thinkroute.request" in logs
    secrets = [*keys, *(hash_key(k) for k in keys), ADMIN, hash_key(ADMIN)]
    for secret in secrets:
        for where, text in (("spans", span_text), ("logs", logs), ("metrics", metrics), ("dashboard", dashboard)):
            assert secret not in text, f"a key or its hash leaked into {where}"
            assert secret[:16] not in text, f"a prefix of a key or hash leaked into {where}"
