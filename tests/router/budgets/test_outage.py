"""Redis going away and coming back: behaviour per fail mode, settlements retried, nothing dropped or charged twice."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from router.budgets import BudgetService, Cost
from router.errors import ServiceUnavailable
from tests.router.budgets.conftest import PrivateRedis, make_policy

pytestmark = pytest.mark.redis
ServerFactory = Callable[[bool], PrivateRedis]
TENANTS = {t: {"limits": [{"kind": "usd", "window": "day", "limit": 100}]} for t in ("acme", "globex")}


def _service(server: PrivateRedis, fail_mode: str, **budgets: Any) -> BudgetService:
    settings = {"store": "redis", "redis_url": server.url, "fail_mode": fail_mode, "key_prefix": "out", **budgets}
    return BudgetService.create(make_policy(TENANTS, allow_anonymous=False, **settings))


async def _day(service: BudgetService, tenant: str) -> tuple[int, int]:
    view = await service.spend(tenant)
    day = next(w for w in view["windows"] if w["kind"] == "usd" and w["window"] == "day")
    return round(day["spent"] * 1e6), round(day["reserved"] * 1e6)


async def test_fail_closed_refuses_during_an_outage_and_writes_queued_settlements_after(
    private_redis_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = private_redis_factory(True)  # state survives the restart
    service = _service(server, "fail_closed")
    key, _ = await service.keys.create("acme")
    before = await service.reserve("acme", Cost(usd=1))
    server.kill()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as info:
        await service.reserve("acme", Cost(usd=1))
    assert info.value.status_code == 503 and info.value.retry_after
    with pytest.raises(ServiceUnavailable):
        await service.authenticate(f"Bearer {key}")  # 503, not a misleading 401
    assert time.monotonic() - started < 3, "an outage answers quickly"
    await service.settle(before, Cost(usd=0.4))  # the request that was running when Redis died
    # queued: that settlement, and a release of the refused reserve (its connection broke mid-call, so it
    # may have been applied)
    assert service.pending_settlements == 2 and await service.flush() == 0
    assert service.counters["fail_closed"] == 1 and service.counters["queued_settlements"] == 2
    assert "budget store unavailable (fail_closed)" in caplog.text
    server.start()
    await service.tick()
    assert service.pending_settlements == 0 and service.counters["retried_settlements"] == 2
    assert await _day(service, "acme") == (400_000, 0)
    await service.settle(before, Cost(usd=0.4))
    await service.tick()
    assert await _day(service, "acme") == (400_000, 0), "nothing charged twice"
    assert await service.authenticate(f"Bearer {key}") == "acme"
    await service.aclose()


async def test_fail_open_serves_during_an_outage_and_records_the_spend_later(
    private_redis_factory: ServerFactory,
) -> None:
    server = private_redis_factory(False)  # comes back empty: the reservation made before is lost
    service = _service(server, "fail_open")
    key, _ = await service.keys.create("acme")
    assert await service.authenticate(f"Bearer {key}") == "acme"
    before = await service.reserve("acme", Cost(usd=1))
    server.kill()
    assert await service.authenticate(f"Bearer {key}") == "acme", "a key seen before still works"
    with pytest.raises(ServiceUnavailable):
        await service.authenticate("Bearer tr-never-seen")  # cannot be checked: neither 401 nor served
    during = await service.reserve("acme", Cost(usd=1))
    assert not during.reservation.recorded and service.counters["fail_open"] == 1
    await service.settle(during, Cost(usd=0.25))
    await service.settle(before, Cost(usd=0.5))
    assert service.pending_settlements == 2
    server.start()
    await service.tick()
    assert service.pending_settlements == 0 and service.counters["recovered_settlements"] == 2
    assert await _day(service, "acme") == (750_000, 0), "both settlements recorded, neither dropped"
    await service.tick()
    assert await _day(service, "acme") == (750_000, 0)
    await service.aclose()


@pytest.mark.parametrize("fail_mode", ["fail_open", "fail_closed"])
async def test_redis_restarted_mid_run(private_redis_factory: ServerFactory, fail_mode: str) -> None:
    server = private_redis_factory(True)
    replicas = [_service(server, fail_mode), _service(server, fail_mode)]
    for replica in replicas:
        replica.start()  # background retries, as in the app
    charged = {"acme": 0, "globex": 0}
    refused, served_after_restart = 0, 0
    restarted, stop = asyncio.Event(), asyncio.Event()

    async def client(seed: int) -> None:
        nonlocal refused, served_after_restart
        rng = random.Random(seed)
        while not stop.is_set():
            tenant, replica = rng.choice(list(charged)), rng.choice(replicas)
            try:
                async with replica.hold(tenant, Cost(usd=0.001)) as ticket:
                    await asyncio.sleep(rng.random() * 0.01)
                    actual = rng.randint(1, 1000)
                    ticket.add(Cost(usd=actual / 1e6))
                    charged[tenant] += actual
                served_after_restart += restarted.is_set() and ticket.reservation.recorded
            except ServiceUnavailable:
                refused += 1
            await asyncio.sleep(0.005)

    clients = [asyncio.create_task(client(seed)) for seed in range(4)]
    await asyncio.sleep(0.3)
    server.kill()
    await asyncio.sleep(0.5)
    server.start()
    restarted.set()
    deadline = time.monotonic() + 15
    while (served_after_restart < 20 or any(r.pending_settlements for r in replicas)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*clients)
    assert served_after_restart >= 20, "service resumed once Redis was back"
    queued = sum(r.counters["queued_settlements"] for r in replicas)
    assert queued > 0 and all(r.pending_settlements == 0 for r in replicas)
    for tenant, micro in charged.items():
        assert await _day(replicas[0], tenant) == (micro, 0), f"{tenant}: every settled cost recorded exactly once"
    if fail_mode == "fail_closed":
        assert refused > 0 and sum(r.counters["fail_closed"] for r in replicas) == refused
    else:
        assert refused == 0 and sum(r.counters["fail_open"] for r in replicas) > 0
    for replica in replicas:
        await replica.aclose()


async def test_settlements_still_unwritten_at_shutdown_are_reported(
    private_redis_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="thinkroute.budgets")
    server = private_redis_factory(False)
    service = _service(server, "fail_closed")
    ticket = await service.reserve("acme", Cost(usd=1))
    server.kill()
    await service.settle(ticket, Cost(usd=0.5))
    await service.aclose(drain_s=0.2)
    assert service.counters["unwritten_at_shutdown"] == 1
    assert "1 budget settlements could not be written before shutdown" in caplog.text
