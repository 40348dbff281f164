"""Reserve-and-settle semantics of the stores, identical in process and in Redis."""

from __future__ import annotations

import asyncio
import random
import uuid

from router.budgets.meters import UNLIMITED, Meter, Reservation, Settled, Store


def _meter(prefix: str, limit: int, amount: int, name: str = "acme") -> Meter:
    return Meter(f"{prefix}:{name}:usd:day:1", name, "usd", "day", limit, amount, 3600)


def _rid() -> str:
    return uuid.uuid4().hex


async def _state(store: Store, meter: Meter) -> tuple[int, int]:
    state = (await store.read([meter.key]))[0]
    return state.spent, state.held


async def test_reserve_refuses_what_does_not_fit_and_settle_releases(store: Store, prefix: str) -> None:
    first = await store.reserve(_rid(), [_meter(prefix, 100, 60)], ttl_s=60)
    assert first.refused is None
    refused = await store.reserve(_rid(), [_meter(prefix, 100, 50)], ttl_s=60)  # 60 held + 50 > 100
    assert refused.refused is not None and refused.refused.remaining == 40
    assert await store.settle(first, [20]) is Settled.SETTLED  # actual 20: the other 40 is released
    assert await _state(store, _meter(prefix, 100, 0)) == (20, 0)
    assert (await store.reserve(_rid(), [_meter(prefix, 100, 80)], ttl_s=60)).refused is None


async def test_settling_twice_never_double_charges(store: Store, prefix: str) -> None:
    reservation = await store.reserve(_rid(), [_meter(prefix, 100, 10)], ttl_s=60)
    assert await store.settle(reservation, [7]) is Settled.SETTLED
    assert await store.settle(reservation, [7]) is Settled.DUPLICATE
    assert await _state(store, _meter(prefix, 100, 0)) == (7, 0)


async def test_reserving_twice_with_one_id_holds_once(store: Store, prefix: str) -> None:
    rid = _rid()  # a client retrying a reserve whose reply was lost
    await store.reserve(rid, [_meter(prefix, 100, 30)], ttl_s=60)
    again = await store.reserve(rid, [_meter(prefix, 100, 30)], ttl_s=60)
    assert again.refused is None
    assert await _state(store, _meter(prefix, 100, 0)) == (0, 30)


async def test_large_and_zero_amounts_stay_exact(store: Store, prefix: str) -> None:
    big = 10**15 + 7  # a billion dollars in micro-dollars: past the 14 digits a Lua number prints
    reservation = await store.reserve(_rid(), [_meter(prefix, 2 * 10**15, big)], ttl_s=60)
    zero = await store.reserve(_rid(), [_meter(prefix, 2 * 10**15, 0)], ttl_s=0.01)
    await store.settle(reservation, [big - 4])
    await asyncio.sleep(0.02)
    assert await store.reconcile(charge=True) == 1
    assert await _state(store, _meter(prefix, 0, 0)) == (big - 4, 0)
    assert await store.settle(zero, [0]) is Settled.DUPLICATE


async def test_a_release_that_overtakes_its_reserve_makes_the_reserve_a_no_op(store: Store, prefix: str) -> None:
    meter, rid = _meter(prefix, 100, 30), _rid()
    await store.settle(Reservation(rid, [meter], recorded=False), [0])  # queued by a caller that gave up
    assert (await store.reserve(rid, [meter], ttl_s=60)).refused is None
    assert await _state(store, meter) == (0, 0)


async def test_all_meters_are_checked_atomically(store: Store, prefix: str) -> None:
    team, org = _meter(prefix, 1000, 30, "team"), _meter(prefix, 50, 30, "org")
    assert (await store.reserve(_rid(), [team, org], ttl_s=60)).refused is None
    blocked = await store.reserve(_rid(), [team, org], ttl_s=60)
    assert blocked.refused is not None and blocked.refused.meter.key == org.key
    states = await store.read([team.key, org.key])
    assert [s.held for s in states] == [30, 30], "a refused reservation holds nothing anywhere"


async def test_unlimited_meters_only_record(store: Store, prefix: str) -> None:
    meter = _meter(prefix, UNLIMITED, 10**12)
    reservation = await store.reserve(_rid(), [meter], ttl_s=60)
    assert reservation.refused is None
    await store.settle(reservation, [123])
    assert await _state(store, meter) == (123, 0)


async def test_a_settlement_without_a_reservation_record_charges_once(store: Store, prefix: str) -> None:
    # Made fail-open (never recorded) or lost by the store: the actual amount is charged, exactly once.
    unrecorded = Reservation(_rid(), [_meter(prefix, 100, 50)], recorded=False)
    assert await store.settle(unrecorded, [40]) is Settled.RECOVERED
    assert await store.settle(unrecorded, [40]) is Settled.DUPLICATE
    assert await _state(store, _meter(prefix, 100, 0)) == (40, 0)


async def test_concurrent_requests_are_exact_and_never_overspend(store: Store, prefix: str) -> None:
    limit = 5_000
    rng = random.Random(4)
    costs = [(rng.randint(50, 200), rng.randint(0, 50)) for _ in range(300)]
    settled: list[int] = []

    async def one(worst: int, actual: int) -> None:
        reservation = await store.reserve(_rid(), [_meter(prefix, limit, worst)], ttl_s=60)
        if reservation.refused is None:
            await asyncio.sleep(0)
            await store.settle(reservation, [actual])
            settled.append(actual)

    await asyncio.gather(*(one(w, a) for w, a in costs))
    spent, held = await _state(store, _meter(prefix, limit, 0))
    assert spent == sum(settled) and held == 0 and spent <= limit
    assert len(settled) < len(costs), "the limit refused some requests"


async def test_expired_reservations_are_charged_their_worst_case_once(store: Store, prefix: str) -> None:
    reservation = await store.reserve(_rid(), [_meter(prefix, 100, 30)], ttl_s=0.05)
    await store.reserve(_rid(), [_meter(prefix, 100, 5)], ttl_s=60)  # not expired: untouched
    await asyncio.sleep(0.1)
    assert await store.reconcile(charge=True) == 1
    assert await _state(store, _meter(prefix, 100, 0)) == (30, 5)
    assert await store.reconcile(charge=True) == 0
    assert await store.settle(reservation, [10]) is Settled.DUPLICATE, "a late settle never charges again"
    assert await _state(store, _meter(prefix, 100, 0)) == (30, 5)


async def test_expired_reservations_can_be_released_instead(store: Store, prefix: str) -> None:
    await store.reserve(_rid(), [_meter(prefix, 100, 30)], ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert await store.reconcile(charge=False) == 1
    assert await _state(store, _meter(prefix, 100, 0)) == (0, 0)
