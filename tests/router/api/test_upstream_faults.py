"""End to end: the official ``openai`` client → thinkroute (real uvicorn) → a faulty upstream on loopback.

Upstream statuses reach the client in the OpenAI shape (429 stays 429 with ``Retry-After``, 5xx → 502,
timeout → 504), fallbacks answer when a backend is down, and the tenant's budget is settled with
exactly what was spent, including the partial spend of a stream that broke mid-way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from router.api import create_app
from router.backends.base import ChatMessage
from router.planner.tokens import estimate_prompt_tokens
from router.policy import parse_policy
from tests.router.backends.fault_upstream import Fault, FaultyUpstream
from tests.support import UvicornThread, free_port

ADMIN = "admin-upstream-faults-key-0123456789"
PRICE = {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0}


def _policy(upstream_url: str) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused
    fast = {"retry_backoff_s": 0.01, "cooldown_after": 1000, "price": PRICE}
    return {
        "backends": {
            "lean": {"type": "openai_compatible", "api_base": upstream_url, "model": "fake-model", "max_retries": 1,
                     **fast},
            "hosted": {"type": "litellm", "model": "openai/fake-model", "api_base": upstream_url,
                       "api_key_env": "THINKROUTE_TEST_PROVIDER_KEY", "max_retries": 1, **fast},
            "down_with_fallback": {"type": "openai_compatible", "api_base": dead, "model": "m", "max_retries": 0,
                                   "fallbacks": ["lean"], **fast},
            "down": {"type": "openai_compatible", "api_base": dead, "model": "m", "max_retries": 0, **fast},
        },
        "strategies": {
            "single": {"type": "single_pass", "backend": "lean", "max_tokens": 16},
            "hosted_single": {"type": "single_pass", "backend": "hosted", "max_tokens": 16},
            "via_fallback": {"type": "single_pass", "backend": "down_with_fallback", "max_tokens": 16},
            "vote_on_down": {"type": "best_of_n", "backend": "down", "max_tokens": 16, "n_values": [4],
                             "wave_size": 4, "stopping": []},
        },
        "routes": {
            "lean": {"strategies": ["single"]},
            "hosted": {"strategies": ["hosted_single"]},
            "backend-fallback": {"strategies": ["via_fallback"]},
            "strategy-fallback": {"strategies": ["vote_on_down"], "fallback_strategies": ["single"]},
        },
        "classifier": {"enabled": False},
        "budgets": {"allow_anonymous": False, "key_prefix": "tr"},
        "tenants": {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 100.0}]}},
    }  # fmt: skip


@pytest.fixture
def router_url(upstream_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("THINKROUTE_TEST_PROVIDER_KEY", "sk-provider-test")
    monkeypatch.delenv("THINKROUTE_REDIS_URL", raising=False)
    app = create_app(parse_policy(_policy(upstream_url)))
    with UvicornThread(app) as server:
        yield server.base_url


@pytest.fixture
async def admin(router_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router_url, headers={"authorization": f"Bearer {ADMIN}"}) as client:
        yield client


@pytest.fixture
async def client(router_url: str, admin: httpx.AsyncClient) -> AsyncIterator[openai.AsyncOpenAI]:
    key = (await admin.post("/admin/tenants/acme/keys")).json()["key"]
    async with openai.AsyncOpenAI(base_url=router_url + "/v1", api_key=key, max_retries=0, timeout=30) as c:
        yield c


async def _spend(admin: httpx.AsyncClient) -> dict[str, float]:
    window = (await admin.get("/admin/tenants/acme/spend")).json()["windows"][0]
    return {"spent": float(window["spent"]), "reserved": float(window["reserved"])}


MESSAGES: list[Any] = [{"role": "user", "content": "What is six times seven?"}]


@pytest.mark.parametrize("route", ["lean", "hosted"])
async def test_answers_stream_and_charge_the_exact_cost(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, upstream: FaultyUpstream, route: str
) -> None:
    raw = await client.chat.completions.with_raw_response.create(model=route, messages=MESSAGES, max_tokens=8)
    reply = raw.parse()
    assert reply.choices[0].message.content == upstream.reply
    usage = upstream.completion(upstream.requests[-1])["usage"]
    assert reply.usage is not None and reply.usage.prompt_tokens == usage["prompt_tokens"]
    prompt_usd = usage["prompt_tokens"] * PRICE["input_per_mtok"]
    cost = (prompt_usd + usage["completion_tokens"] * PRICE["output_per_mtok"]) / 1e6
    assert float(raw.headers["x-thinkroute-cost-usd"]) == pytest.approx(cost, rel=1e-6)
    assert (await _spend(admin)) == {"spent": pytest.approx(cost, rel=1e-6), "reserved": 0}
    stream = await client.chat.completions.create(model=route, messages=MESSAGES, max_tokens=8, stream=True,
                                                  stream_options={"include_usage": True})  # fmt: skip
    text, streamed_usage = "", None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        streamed_usage = chunk.usage or streamed_usage
    assert text.split() == upstream.reply.split() and streamed_usage is not None
    assert (await _spend(admin))["spent"] == pytest.approx(2 * cost, rel=1e-6)


async def test_upstream_429_stays_429_with_retry_after_and_nothing_is_charged(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, upstream: FaultyUpstream
) -> None:
    upstream.push(Fault("status", status=429, retry_after="0"), Fault("status", status=429, retry_after="7"))
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(model="lean", messages=MESSAGES, max_tokens=8)
    assert raised.value.status_code == 429 and raised.value.response.headers["retry-after"] == "7"
    assert len(upstream.requests) == 2  # one retry (max_retries: 1), then the upstream's 429 goes back
    assert await _spend(admin) == {"spent": 0, "reserved": 0}
    metrics = (await admin.get("/metrics")).text
    assert 'thinkroute_upstream_events_total{backend="lean",outcome="retry",status="429"} 1.0' in metrics


@pytest.mark.parametrize("route", ["lean", "hosted"])
async def test_upstream_5xx_becomes_502(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, upstream: FaultyUpstream, route: str
) -> None:
    upstream.push(Fault("status", status=500), Fault("status", status=503))
    with pytest.raises(openai.APIStatusError) as raised:
        await client.chat.completions.create(model=route, messages=MESSAGES, max_tokens=8)
    assert raised.value.status_code == 502
    body = raised.value.body
    assert isinstance(body, dict) and body["type"] == "upstream_error"
    assert await _spend(admin) == {"spent": 0, "reserved": 0}


async def test_a_slow_upstream_is_cut_at_the_latency_slo_with_504(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, upstream: FaultyUpstream
) -> None:
    upstream.push(Fault("slow_first_byte", delay_s=5.0), Fault("slow_first_byte", delay_s=5.0))
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as raised:
        await client.chat.completions.create(model="lean", messages=MESSAGES, max_tokens=8,
                                             extra_headers={"x-thinkroute-latency-ms": "1500"})  # fmt: skip
    assert raised.value.status_code == 504 and time.monotonic() - started < 3.0
    assert await _spend(admin) == {"spent": 0, "reserved": 0}


async def test_a_down_backend_falls_back_to_the_next_backend(
    client: openai.AsyncOpenAI, upstream: FaultyUpstream
) -> None:
    reply = await client.chat.completions.create(model="backend-fallback", messages=MESSAGES, max_tokens=8)
    assert reply.choices[0].message.content == upstream.reply and len(upstream.requests) == 1


async def test_a_failing_strategy_falls_back_to_a_cheaper_one(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, upstream: FaultyUpstream
) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model="strategy-fallback", messages=MESSAGES, max_tokens=8
    )
    assert raw.parse().choices[0].message.content == upstream.reply
    assert raw.headers["x-thinkroute-strategy"] == "single"
    assert raw.headers["x-thinkroute-fallback-from"] == "vote_on_down"
    assert (await _spend(admin))["spent"] == pytest.approx(float(raw.headers["x-thinkroute-cost-usd"]), rel=1e-6)


async def test_a_stream_broken_mid_way_is_reported_and_its_partial_spend_settled(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, upstream: FaultyUpstream
) -> None:
    upstream.push(Fault("reset", after_chunks=3))
    stream = await client.chat.completions.create(model="lean", messages=MESSAGES, max_tokens=8, stream=True)
    text = ""
    with pytest.raises(openai.APIError, match="broke the stream"):
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    assert text.split() == upstream.reply.split()[:3]
    spend = await _spend(admin)
    assert spend["reserved"] == 0 and spend["spent"] > 0  # the prompt and three streamed pieces, estimated
    prompt = estimate_prompt_tokens([ChatMessage("user", MESSAGES[0]["content"])])
    assert spend["spent"] == pytest.approx((prompt * PRICE["input_per_mtok"] + 3 * PRICE["output_per_mtok"]) / 1e6)
