"""Keys, admin API and budgets through the HTTP API: 401/403/402, and every failure path settles."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from router.api import create_app
from router.backends.base import GenerationRequest, GenerationResult
from router.backends.scripted import ScriptedBackend
from router.errors import UpstreamUnavailable
from router.policy import parse_policy

ADMIN = "admin-SECRET-key-0123456789"
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is two plus two?"}], "max_tokens": 4}
POLICY = {
    "backends": {"local": {"type": "local", "price": {"input_per_mtok": 10000, "output_per_mtok": 10000}}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 8},
        "vote": {
            "type": "best_of_n",
            "backend": "local",
            "max_tokens": 8,
            "n_values": [8],
            "wave_size": 4,
            "stopping": [],
        },
    },
    "routes": {"auto": {"strategies": ["single", "vote"]}},
    "classifier": {"enabled": False},
    "budgets": {"allow_anonymous": False, "key_prefix": "api"},
    "tenants": {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 1.0}]}, "globex": {}},
}


class _FailsOnSecondWave(ScriptedBackend):
    async def generate(self, request: GenerationRequest) -> GenerationResult:
        if len(self.calls) >= 1:
            self.calls.append(request)
            raise UpstreamUnavailable("upstream 500 after the first wave", backend=self.name)
        return await super().generate(request)


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    monkeypatch.delenv("THINKROUTE_REDIS_URL", raising=False)
    backend = _FailsOnSecondWave(["#### 4"], price_per_token=0.0)
    backend._price = 0.01  # $0.01 per (whitespace) token
    app = create_app(parse_policy(POLICY), backend_factories={"local": lambda n, c: backend})
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def _new_key(client: httpx.AsyncClient, tenant: str) -> str:
    response = await client.post(f"/admin/tenants/{tenant}/keys", headers=_auth(ADMIN))
    assert response.status_code == 201
    return str(response.json()["key"])


async def test_authentication_and_admin_permissions(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 401
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=_auth("tr-wrong"))).status_code == 401
    acme = await _new_key(client, "acme")
    globex = await _new_key(client, "globex")
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=_auth(acme))).status_code == 200
    assert (await client.post("/admin/tenants/acme/keys")).status_code == 401
    assert (await client.post("/admin/tenants/acme/keys", headers=_auth(acme))).status_code == 403
    assert (await client.get("/admin/tenants/acme/spend", headers=_auth(acme))).status_code == 200
    assert (await client.get("/admin/tenants/acme/spend", headers=_auth(globex))).status_code == 403
    key_id = (await client.post("/admin/tenants/acme/keys", headers=_auth(ADMIN))).json()
    revoked = await client.delete(f"/admin/keys/{key_id['key_id']}", headers=_auth(ADMIN))
    assert revoked.json()["revoked"] is True
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=_auth(key_id["key"]))).status_code == 401


async def test_spend_is_recorded_and_the_budget_refuses_with_402(client: httpx.AsyncClient) -> None:
    acme = await _new_key(client, "acme")
    response = await client.post("/v1/chat/completions", json=CHAT, headers=_auth(acme))
    cost = float(response.headers["x-thinkroute-cost-usd"])
    spend = (await client.get("/admin/tenants/acme/spend", headers=_auth(ADMIN))).json()["windows"][0]
    assert spend["spent"] == pytest.approx(cost) and spend["reserved"] == 0
    await client.put("/admin/tenants/acme/limits", headers=_auth(ADMIN),
                     json={"limits": [{"kind": "usd", "window": "day", "limit": cost + 0.01}]})  # fmt: skip
    refused = await client.post("/v1/chat/completions", json=CHAT, headers=_auth(acme))
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "budget_exceeded"


async def test_an_upstream_failure_mid_request_settles_what_was_spent(client: httpx.AsyncClient) -> None:
    acme = await _new_key(client, "acme")
    headers = {**_auth(acme), "x-thinkroute-strategy": "vote"}
    failed = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert failed.status_code == 502
    spend = (await client.get("/admin/tenants/acme/spend", headers=_auth(ADMIN))).json()["windows"][0]
    first_wave = 0.01 * (5 + 4 * 2)  # prompt words once + 4 samples of "#### 4"
    assert spend["spent"] == pytest.approx(first_wave) and spend["reserved"] == 0


async def test_keys_never_reach_logs(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    acme = await _new_key(client, "acme")
    await client.post("/v1/chat/completions", json=CHAT, headers=_auth(acme))
    await client.post("/v1/chat/completions", json=CHAT, headers=_auth(acme + "x"))
    from router.budgets.keys import hash_key

    for secret in (acme, ADMIN, hash_key(acme)):
        assert secret not in caplog.text
