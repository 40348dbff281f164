"""The admin API on its own small app: 401 without the admin key, 403 for tenant keys, keys, limits, spend."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from router.api.admin import admin_router
from router.api.errors import install_error_handlers
from router.budgets import BudgetService, Cost, hash_key
from router.errors import BudgetExceeded
from tests.router.budgets.conftest import REDIS_URL, _reachable, delete_prefix, make_policy, require_or_skip

ADMIN = "admin-SECRET-0123456789abcdef"
DECLARED = "tr-declared-0123456789abcdef"
TENANTS = {
    "acme": {"limits": [{"kind": "usd", "window": "day", "limit": 1.0}], "rpm": 100},
    "globex": {"api_key_hashes": [hash_key(DECLARED)]},
}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def app(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FastAPI]:
    """admin_router + the error handlers + a ``/whoami`` route that authenticates like the chat endpoint."""
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    monkeypatch.delenv("THINKROUTE_REDIS_URL", raising=False)
    prefix = f"trtest-admin-{request.param}-{id(request)}"
    budgets: dict[str, Any] = {"key_prefix": prefix, "allow_anonymous": False}
    if request.param == "redis":
        if not _reachable(REDIS_URL):
            require_or_skip(f"Redis at {REDIS_URL}")
        budgets |= {"store": "redis", "redis_url": REDIS_URL}
    app = FastAPI()
    app.include_router(admin_router)
    install_error_handlers(app)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"tenant": await request.app.state.budgets.authenticate(request.headers.get("authorization"))}

    app.state.budgets = BudgetService.create(make_policy(TENANTS, **budgets))
    yield app
    await app.state.budgets.aclose()
    delete_prefix(REDIS_URL, prefix)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin.test") as c:
        yield c


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def _new_key(client: httpx.AsyncClient, tenant: str) -> dict[str, str]:
    response = await client.post(f"/admin/tenants/{tenant}/keys", headers=_auth(ADMIN))
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def _without_clock(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "windows": [{k: v for k, v in w.items() if k != "resets_in_s"} for w in view["windows"]]}


ADMIN_CALLS = [
    ("POST", "/admin/tenants/acme/keys", None),
    ("GET", "/admin/tenants/acme/keys", None),
    ("DELETE", "/admin/keys/k0123", None),
    ("GET", "/admin/tenants/acme/limits", None),
    ("PUT", "/admin/tenants/acme/limits", {"rpm": 5}),
    ("DELETE", "/admin/tenants/acme/limits", None),
    ("GET", "/admin/tenants/globex/spend", None),
]


async def test_admin_routes_need_the_admin_key(client: httpx.AsyncClient) -> None:
    tenant_key = (await _new_key(client, "acme"))["key"]
    for method, path, body in ADMIN_CALLS:
        for headers in ({}, _auth("tr-wrong"), {"authorization": f"Basic {ADMIN}"}, _auth(ADMIN + "x")):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error"]["type"] == "authentication_error"
        response = await client.request(method, path, json=body, headers=_auth(tenant_key))
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied", path
        assert (await client.request(method, path, json=body, headers=_auth(ADMIN))).status_code != 401


async def test_without_a_configured_admin_key_nobody_is_admin(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THINKROUTE_ADMIN_KEY")
    assert (await client.post("/admin/tenants/acme/keys", headers=_auth(ADMIN))).status_code == 401
    assert (await client.post("/admin/tenants/acme/keys", headers={"authorization": "Bearer "})).status_code == 401
    assert (await client.post("/admin/tenants/acme/keys", headers=_auth(DECLARED))).status_code == 403


async def test_key_lifecycle(client: httpx.AsyncClient) -> None:
    created = await _new_key(client, "acme")
    assert created["key"].startswith("tr-") and created["tenant"] == "acme"
    assert (await client.get("/whoami", headers=_auth(created["key"]))).json() == {"tenant": "acme"}
    assert (await client.get("/whoami", headers=_auth(DECLARED))).json() == {"tenant": "globex"}
    listed = (await client.get("/admin/tenants/acme/keys", headers=_auth(ADMIN))).json()["keys"]
    assert [(k["key_id"], k["revoked"], k["declared"]) for k in listed] == [(created["key_id"], False, False)]
    revoked = await client.delete(f"/admin/keys/{created['key_id']}", headers=_auth(ADMIN))
    assert revoked.json() == {"key_id": created["key_id"], "revoked": True}
    refused = await client.get("/whoami", headers=_auth(created["key"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert (await client.get("/whoami")).status_code == 401  # the policy allows no anonymous use
    assert (await client.delete("/admin/keys/k-none", headers=_auth(ADMIN))).status_code == 404
    assert (await client.post("/admin/tenants/nobody/keys", headers=_auth(ADMIN))).status_code == 404


async def test_spend_is_readable_by_the_admin_and_by_the_tenant_itself_only(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    acme = (await _new_key(client, "acme"))["key"]
    service: BudgetService = app.state.budgets
    await service.settle(await service.reserve("acme", Cost(usd=0.5, tokens=100)), Cost(usd=0.125, tokens=40))
    await service.reserve("acme", Cost(usd=0.25))
    own = await client.get("/admin/tenants/acme/spend", headers=_auth(acme))
    assert own.status_code == 200
    as_admin = (await client.get("/admin/tenants/acme/spend", headers=_auth(ADMIN))).json()
    assert _without_clock(own.json()) == _without_clock(as_admin)
    day = next(w for w in own.json()["windows"] if w["kind"] == "usd" and w["window"] == "day")
    assert (day["limit"], day["spent"], day["reserved"], day["remaining"]) == (1.0, 0.125, 0.25, 0.625)
    rpm = next(w for w in own.json()["windows"] if w["kind"] == "requests")
    assert (rpm["limit"], rpm["spent"], rpm["reserved"]) == (100, 1, 1)
    other = await client.get("/admin/tenants/globex/spend", headers=_auth(acme))
    assert other.status_code == 403
    assert (await client.get("/admin/tenants/acme/spend", headers=_auth(DECLARED))).status_code == 403
    assert (await client.get("/admin/tenants/nobody/spend", headers=_auth(ADMIN))).status_code == 404


async def test_limits_can_be_changed_at_run_time(client: httpx.AsyncClient, app: FastAPI) -> None:
    bad = await client.put("/admin/tenants/acme/limits", headers=_auth(ADMIN), json={"limits": [], "rmp": 3})
    assert bad.status_code == 400
    new = {"limits": [{"kind": "usd", "window": "day", "limit": 0.01}]}
    response = await client.put("/admin/tenants/acme/limits", headers=_auth(ADMIN), json=new)
    assert response.json() == {"tenant": "acme", "limits": [{"kind": "usd", "window": "day", "limit": 0.01}],
                               "rpm": 100, "tpm": None, "parent": None}  # fmt: skip
    service: BudgetService = app.state.budgets
    with pytest.raises(BudgetExceeded):
        await service.reserve("acme", Cost(usd=0.02))
    restored = await client.delete("/admin/tenants/acme/limits", headers=_auth(ADMIN))
    assert restored.json()["limits"][0]["limit"] == 1.0
    await service.reserve("acme", Cost(usd=0.02))
    read = await client.get("/admin/tenants/acme/limits", headers=_auth(ADMIN))
    assert read.json()["limits"] == [{"kind": "usd", "window": "day", "limit": 1.0}]


async def test_keys_and_hashes_never_reach_logs_or_error_bodies(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = (await _new_key(client, "acme"))["key"]
    bodies = [
        (await client.get("/whoami", headers=_auth(key + "typo"))).text,
        (await client.get("/admin/tenants/globex/spend", headers=_auth(key))).text,
        (await client.post("/admin/tenants/acme/keys", headers=_auth(ADMIN + "x"))).text,
        (await client.get("/admin/tenants/acme/keys", headers=_auth(ADMIN))).text,
    ]
    for secret in (key, key + "typo", hash_key(key), hash_key(key + "typo"), ADMIN, hash_key(DECLARED)):
        assert secret not in caplog.text
        assert all(secret not in body for body in bodies)
