"""Online feedback in serving: verifier outcomes move the served profile, the planner follows, frozen holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from router.api import create_app
from router.backends.scripted import ScriptedBackend
from router.policy import parse_policy

ADMIN = "admin-online-SECRET-0123456789"
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is 2 + 2?"}], "max_tokens": 4}
FORCE_VOTE = {"x-thinkroute-strategy": "vote"}
POLICY: dict[str, Any] = {
    "backends": {"local": {"type": "local", "price": {"input_per_mtok": 1, "output_per_mtok": 2}}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 8},
        "vote": {"type": "best_of_n", "backend": "local", "max_tokens": 8, "n_values": [4], "wave_size": 4,
                 "verifier": "vote", "stopping": []},
    },
    "routes": {"auto": {"strategies": ["single", "vote"], "slo": {"min_quality": 0.8}}},
    "profiles": [{"strategy": "single", "quality": {"easy": 0.7, "medium": 0.7, "hard": 0.7}},
                 {"strategy": "vote", "params": {"n": 4}, "quality": {"easy": 0.9, "medium": 0.9, "hard": 0.9}}],
    "classifier": {"enabled": False},  # every prompt scores 0.5: the medium bucket
    "online_feedback": {"enabled": True, "rate": 0.5, "max_step": 0.05},
}  # fmt: skip


def _disagreeing() -> ScriptedBackend:
    """Four samples, four different answers: the winner gets a quarter of the vote."""
    return ScriptedBackend(lambda request, index: f"#### {index % 4 + 1}")


async def _client(policy: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    backend = _disagreeing()
    app = create_app(parse_policy(policy), backend_factories={"local": lambda n, c: backend})
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    async for c in _client(POLICY):
        yield c


@pytest.fixture
async def frozen(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    async for c in _client({**POLICY, "online_feedback": {**POLICY["online_feedback"], "frozen": True}}):
        yield c


async def _estimates(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/admin/online-profiles", headers={"authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _chosen(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/route/explain", json=CHAT)
    assert response.status_code == 200
    return str(response.json()["chosen"]["strategy"])


async def test_verifier_outcomes_lower_the_estimate_one_bounded_step_each(client: httpx.AsyncClient) -> None:
    assert (await _estimates(client))["estimates"] == {}
    for expected in (0.85, 0.80, 0.75):  # observed 0.25 each time: rate 0.5 would jump, max_step 0.05 holds it
        response = await client.post("/v1/chat/completions", json=CHAT, headers=FORCE_VOTE)
        assert response.status_code == 200
        medium = (await _estimates(client))["estimates"]["vote[n=4]"]["medium"]
        assert medium["estimate"] == pytest.approx(expected) and medium["prior"] == pytest.approx(0.9)
    stream = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=FORCE_VOTE)
    assert stream.status_code == 200 and stream.text.rstrip().endswith("data: [DONE]")
    body = await _estimates(client)
    assert body["enabled"] and not body["frozen"] and body["observations"] == 4
    assert body["estimates"]["vote[n=4]"]["medium"]["estimate"] == pytest.approx(0.70)
    metrics = (await client.get("/metrics")).text
    assert 'thinkroute_online_quality_estimate{bucket="medium",candidate="vote[n=4]"} 0.7' in metrics


async def test_the_planner_follows_the_learned_profile(client: httpx.AsyncClient) -> None:
    assert await _chosen(client) == "vote"  # 0.9 meets min_quality 0.8, single's 0.7 does not
    for _ in range(5):  # vote's estimate falls to 0.65, below single's 0.7: nothing meets 0.8, best is single
        await client.post("/v1/chat/completions", json=CHAT, headers=FORCE_VOTE)
    assert await _chosen(client) == "single"
    single = await client.post("/v1/chat/completions", json=CHAT)  # no verifier ran: nothing observed
    assert single.headers["x-thinkroute-strategy"] == "single"
    assert (await _estimates(client))["observations"] == 5


async def test_frozen_feedback_ignores_outcomes(frozen: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await frozen.post("/v1/chat/completions", json=CHAT, headers=FORCE_VOTE)).status_code == 200
    body = await _estimates(frozen)
    assert body["frozen"] and body["observations"] == 0 and body["estimates"] == {}
    assert await _chosen(frozen) == "vote"


async def test_the_read_out_needs_the_admin_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/online-profiles")).status_code == 401
    wrong = await client.get("/admin/online-profiles", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"


async def test_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    policy = {k: v for k, v in POLICY.items() if k != "online_feedback"}
    async for c in _client(policy):
        await c.post("/v1/chat/completions", json=CHAT, headers=FORCE_VOTE)
        body = await _estimates(c)
        assert body == {"enabled": False, "frozen": False, "policy_version": 1, "observations": 0, "estimates": {}}
