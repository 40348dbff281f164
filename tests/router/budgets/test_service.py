"""The budget service: limits, rate limits, parents, and outages of the Redis store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from router.budgets import BudgetService, Cost
from router.errors import BudgetExceeded, RateLimited, ServiceUnavailable
from router.policy import parse_policy
from tests.router.budgets.conftest import PrivateRedis

BASE = {
    "backends": {"local": {"type": "local"}},
    "strategies": {"single": {"type": "single_pass", "backend": "local"}},
    "routes": {"auto": {"strategies": ["single"]}},
    "classifier": {"enabled": False},
}


def _policy(tenants: dict[str, object], **budgets: object) -> object:
    return parse_policy({**BASE, "tenants": tenants, "budgets": {"key_prefix": "svc", **budgets}})


def _service(policy: object, url: str | None = None) -> BudgetService:
    if url:
        os.environ["THINKROUTE_REDIS_URL"] = url
    try:
        return BudgetService.create(policy)  # type: ignore[arg-type]
    finally:
        os.environ.pop("THINKROUTE_REDIS_URL", None)


async def test_budget_exceeded_is_402_with_details() -> None:
    service = _service(_policy({"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 0.01}]}}))
    ticket = await service.reserve("acme", Cost(usd=0.008))
    with pytest.raises(BudgetExceeded) as info:
        await service.reserve("acme", Cost(usd=0.004))
    assert info.value.status_code == 402 and info.value.code == "budget_exceeded"
    await service.settle(ticket, Cost(usd=0.001))
    await service.reserve("acme", Cost(usd=0.004))  # fits once the unused hold is released
    spend = await service.spend("acme")
    day = spend["windows"][0]
    assert day["spent"] == pytest.approx(0.001) and day["reserved"] == pytest.approx(0.004)


async def test_rate_limits_are_429_with_retry_after() -> None:
    service = _service(_policy({"acme": {"rpm": 2}}))
    await service.reserve("acme", Cost())
    await service.reserve("acme", Cost())
    with pytest.raises(RateLimited) as info:
        await service.reserve("acme", Cost())
    assert info.value.status_code == 429 and 0 < (info.value.retry_after or 0) <= 61


async def test_a_parent_orgs_limit_applies_to_its_teams() -> None:
    policy = _policy({
        "org": {"limits": [{"kind": "tokens", "window": "month", "limit": 1000}]},
        "team-a": {"parent": "org"}, "team-b": {"parent": "org"},
    })  # fmt: skip
    service = _service(policy)
    await service.reserve("team-a", Cost(tokens=700))
    with pytest.raises(BudgetExceeded, match="'org'"):
        await service.reserve("team-b", Cost(tokens=400))


async def test_fail_closed_refuses_and_fail_open_serves_then_records(private_redis: PrivateRedis) -> None:
    limits = {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 10}]}}
    closed = _service(_policy(limits, store="redis", fail_mode="fail_closed"), private_redis.url)
    opened = _service(_policy(limits, store="redis", fail_mode="fail_open"), private_redis.url)
    settled_before = await opened.reserve("acme", Cost(usd=1))
    private_redis.stop()
    with pytest.raises(ServiceUnavailable):
        await closed.reserve("acme", Cost(usd=1))
    ticket = await opened.reserve("acme", Cost(usd=1))
    assert not ticket.reservation.recorded
    await opened.settle(ticket, Cost(usd=0.25))
    await opened.settle(settled_before, Cost(usd=0.5))
    assert opened.pending_settlements == 2 and opened.counters["fail_open"] == 1
    private_redis.start()  # a fresh, empty server: the reservation made before the outage is gone
    await opened._flush_pending()
    assert opened.pending_settlements == 0
    spend = await opened.spend("acme")
    assert spend["windows"][0]["spent"] == pytest.approx(0.25), "the fail-open spend is recorded, nothing twice"
    await closed.aclose()
    await opened.aclose()


async def test_two_processes_sharing_redis_settle_exactly(clean_redis: str, tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(textwrap.dedent(f"""
        import asyncio, os, random, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        os.environ["THINKROUTE_REDIS_URL"] = {clean_redis!r}
        from router.budgets import BudgetService, Cost
        from router.errors import BudgetExceeded
        from router.policy import parse_policy
        policy = parse_policy({BASE!r} | {{"budgets": {{"key_prefix": "exact"}}, "tenants": {{
            t: {{"limits": [{{"kind": "usd", "window": "day", "limit": 0.05}}]}} for t in ("a", "b", "c")}}}})
        async def main(seed):
            service = BudgetService.create(policy)
            rng = random.Random(seed)
            total = 0
            async def one():
                nonlocal total
                tenant = rng.choice("abc")
                worst = rng.randint(100, 900) / 1e6
                try:
                    ticket = await service.reserve(tenant, Cost(usd=worst))
                except BudgetExceeded:
                    return
                actual = round(worst * rng.random(), 6)
                await service.settle(ticket, Cost(usd=actual))
                total += round(actual * 1e6)
            await asyncio.gather(*(one() for _ in range(250)))
            print(total)
            await service.aclose()
        asyncio.run(main(int(sys.argv[1])))
    """))
    processes = [subprocess.run([sys.executable, str(worker), str(seed)], capture_output=True, text=True, timeout=120)
                 for seed in (1, 2)]  # fmt: skip
    for p in processes:
        assert p.returncode == 0, p.stderr
    expected_micro = sum(int(p.stdout.strip()) for p in processes)
    import redis

    client = redis.Redis.from_url(clean_redis)
    spent = sum(int(client.hget(k, "spent") or 0) for k in client.keys("exact:*:usd:day:*"))
    held = sum(int(client.hget(k, "held") or 0) for k in client.keys("exact:*:usd:day:*"))
    assert spent == expected_micro and held == 0
    for key in client.keys("exact:*:usd:day:*"):
        assert int(client.hget(key, "spent") or 0) <= 50_000, "no tenant over its limit"


async def test_background_retries_queued_settlements() -> None:
    service = _service(_policy({}))
    service.start()
    await asyncio.sleep(0)
    await service.aclose()
    assert service.pending_settlements == 0
