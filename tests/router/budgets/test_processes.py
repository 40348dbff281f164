"""Separate router processes sharing one Redis: exact spend under concurrency, and a process killed mid-request."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from router.budgets import BudgetService, Cost
from tests.router.budgets.conftest import make_policy

pytestmark = pytest.mark.redis
REPO = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("worker.py")
TEAM_LIMIT_USD, ORG_LIMIT_USD = 0.03, 0.07


def _run(mode: str, config: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("THINKROUTE_REDIS_URL", None)
    return subprocess.Popen([sys.executable, str(WORKER), mode, json.dumps(config)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _tenants() -> dict[str, Any]:
    tenants: dict[str, Any] = {"org": {"limits": [{"kind": "usd", "window": "day", "limit": ORG_LIMIT_USD}]}}
    for name in "abc":
        tenants[name] = {"parent": "org", "limits": [{"kind": "usd", "window": "day", "limit": TEAM_LIMIT_USD}],
                         "tpm": 10**9}  # fmt: skip
    return tenants


def _window(view: dict[str, Any], kind: str = "usd", window: str = "day") -> dict[str, Any]:
    return next(w for w in view["windows"] if w["kind"] == kind and w["window"] == window)


async def test_two_processes_sharing_redis_charge_exactly_and_never_overspend(redis_url: str, prefix: str) -> None:
    budgets = {"store": "redis", "redis_url": redis_url, "key_prefix": prefix}
    config = {"tenants": _tenants(), "budgets": budgets, "names": list("abc"), "requests": 250, "parties": 2,
              "barrier": f"{prefix}:barrier"}  # fmt: skip
    workers = [_run("load", {**config, "seed": seed}) for seed in (1, 2)]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))
    service = BudgetService.create(make_policy(_tenants(), **budgets))
    try:
        for tenant in "abc":
            expected = sum(r["charged"].get(tenant, 0) for r in reports)
            view = await service.spend(tenant)
            usd, tokens = _window(view), _window(view, "tokens", "day")
            assert round(usd["spent"] * 1e6) == expected, f"{tenant}: recorded spend equals the settled costs"
            assert usd["reserved"] == 0 and usd["spent"] <= TEAM_LIMIT_USD
            assert tokens["spent"] == expected and tokens["reserved"] == 0  # the worker spends 1 token per micro-dollar
        org = _window(await service.spend("org"))
        assert round(org["spent"] * 1e6) == sum(sum(r["charged"].values()) for r in reports)
        assert org["spent"] <= ORG_LIMIT_USD and org["reserved"] == 0
    finally:
        await service.aclose()
    outcomes = {k: sum(r["outcomes"][k] for r in reports) for k in ("ok", "failed", "timeout", "refused")}
    assert outcomes["refused"] > 0, "the limits were reached, so the test exercised refusals"
    assert outcomes["failed"] > 0 and outcomes["timeout"] > 0, "failure paths were exercised"


async def test_a_process_killed_between_reserve_and_settle_is_reconciled(redis_url: str, prefix: str) -> None:
    budgets = {"store": "redis", "redis_url": redis_url, "key_prefix": prefix, "reservation_ttl_s": 0.5}
    tenants = {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 1}]}}
    worker = _run("reserve-and-die", {"tenants": tenants, "budgets": budgets, "tenant": "acme", "usd": 0.25})
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == -9 and out.strip() == "reserved", err
    service = BudgetService.create(make_policy(tenants, **budgets))
    try:
        day = _window(await service.spend("acme"))
        assert (day["spent"], day["reserved"]) == (0.0, 0.25), "the dead process's hold is still there"
        await asyncio.sleep(0.5)
        await service.tick()  # any replica's background round reconciles it
        day = _window(await service.spend("acme"))
        assert (day["spent"], day["reserved"]) == (0.25, 0.0), "charged its worst case, hold released"
        assert service.counters["reconciled"] == 1
        await service.settle(await service.reserve("acme", Cost(usd=0.75)), Cost(usd=0.75))  # the budget is usable
    finally:
        await service.aclose()
