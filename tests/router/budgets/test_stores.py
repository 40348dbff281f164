"""Reserve-and-settle semantics, identical in process and in Redis."""

from __future__ import annotations

import asyncio
import random

from router.budgets.stores import Meter, Store


def _meter(limit: int, amount: int, key: str = "test:acme:usd:day:1") -> Meter:
    return Meter(key, limit, amount, 3600, "usd")


async def test_reserve_refuses_what_does_not_fit_and_settle_releases(store: Store) -> None:
    first = await store.reserve([_meter(100, 60)], ttl_s=60)
    assert first.blocked_by is None
    assert (await store.reserve([_meter(100, 50)], ttl_s=60)).blocked_by is not None  # 60 held + 50 > 100
    assert await store.settle(first, [20])  # actual 20: the other 40 is released
    state = (await store.read(["test:acme:usd:day:1"]))[0]
    assert (state.spent, state.held) == (20, 0)
    assert (await store.reserve([_meter(100, 80)], ttl_s=60)).blocked_by is None


async def test_settling_twice_never_double_charges(store: Store) -> None:
    reservation = await store.reserve([_meter(100, 10)], ttl_s=60)
    assert await store.settle(reservation, [7])
    assert not await store.settle(reservation, [7])
    assert (await store.read(["test:acme:usd:day:1"]))[0].spent == 7


async def test_all_meters_are_checked_atomically(store: Store) -> None:
    team, org = _meter(1000, 30, "test:t:usd:day:1"), _meter(50, 30, "test:org:usd:day:1")
    assert (await store.reserve([team, org], ttl_s=60)).blocked_by is None
    blocked = await store.reserve([team, org], ttl_s=60)
    assert blocked.blocked_by is not None and blocked.blocked_by.key == org.key
    states = await store.read([team.key, org.key])
    assert [s.held for s in states] == [30, 30], "a refused reservation holds nothing anywhere"


async def test_concurrent_requests_are_exact_and_never_overspend(store: Store) -> None:
    limit = 5_000
    rng = random.Random(4)
    costs = [(rng.randint(50, 200), rng.randint(0, 50)) for _ in range(300)]
    settled: list[int] = []

    async def one(worst: int, actual: int) -> None:
        reservation = await store.reserve([_meter(limit, worst)], ttl_s=60)
        if reservation.blocked_by is None:
            await asyncio.sleep(0)
            await store.settle(reservation, [actual])
            settled.append(actual)

    await asyncio.gather(*(one(w, a) for w, a in costs))
    state = (await store.read(["test:acme:usd:day:1"]))[0]
    assert state.spent == sum(settled)
    assert state.held == 0 and state.spent <= limit


async def test_unsettled_reservations_expire_and_are_charged_their_worst_case(store: Store) -> None:
    await store.reserve([_meter(100, 30)], ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert await store.reconcile() == 1
    state = (await store.read(["test:acme:usd:day:1"]))[0]
    assert (state.spent, state.held) == (30, 0)
    assert await store.reconcile() == 0
