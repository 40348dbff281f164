"""The budget service on both stores: limits, rate limits, parents, overrides, spend, and every failure path."""

from __future__ import annotations

import asyncio
import random

import pytest

from router.budgets import BudgetService, Cost
from router.errors import BudgetExceeded, RateLimited
from tests.router.budgets.conftest import ReplyDelayProxy, ServiceFactory, make_policy

DAY_CENT = {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 0.01}]}}


def _window(view: dict[str, object], kind: str, window: str) -> dict[str, object]:
    windows = view["windows"]
    assert isinstance(windows, list)
    return next(w for w in windows if w["kind"] == kind and w["window"] == window)


async def test_budget_exceeded_is_402_with_what_remains(make_service: ServiceFactory) -> None:
    service = make_service(DAY_CENT)
    ticket = await service.reserve("acme", Cost(usd=0.008))
    with pytest.raises(BudgetExceeded) as info:
        await service.reserve("acme", Cost(usd=0.004))
    assert info.value.status_code == 402 and info.value.code == "budget_exceeded"
    assert info.value.details["remaining"] == pytest.approx(0.002) and info.value.details["window"] == "day"
    await service.settle(ticket, Cost(usd=0.001, tokens=30))
    await service.reserve("acme", Cost(usd=0.004))  # fits once the unused hold is released
    view = await service.spend("acme")
    day = _window(view, "usd", "day")
    assert (day["spent"], day["reserved"], day["limit"]) == (0.001, 0.004, 0.01)
    assert day["remaining"] == pytest.approx(0.005)
    tokens = _window(view, "tokens", "month")
    assert tokens["spent"] == 30 and tokens["limit"] is None and tokens["remaining"] is None


async def test_amounts_are_exact_to_the_micro_dollar(make_service: ServiceFactory) -> None:
    service = make_service({"acme": {"limits": [{"kind": "usd", "window": "month", "limit": 1}]}})
    for _ in range(1000):  # 0.1 + 0.2 style float drift would show after a thousand additions
        await service.settle(await service.reserve("acme", Cost(usd=0.000_3)), Cost(usd=0.000_1))
    assert _window(await service.spend("acme"), "usd", "month")["spent"] == 0.1


async def test_rate_limits_are_429_with_retry_after(make_service: ServiceFactory) -> None:
    service = make_service({"acme": {"rpm": 2}, "beta": {"tpm": 100}})
    await service.reserve("acme", Cost())
    await service.reserve("acme", Cost())
    with pytest.raises(RateLimited) as info:
        await service.reserve("acme", Cost())
    assert info.value.status_code == 429 and 0 < (info.value.retry_after or 0) <= 60
    held = await service.reserve("beta", Cost(tokens=80))
    with pytest.raises(RateLimited, match="tokens per minute"):
        await service.reserve("beta", Cost(tokens=30))
    await service.settle(held, Cost(tokens=10))
    await service.reserve("beta", Cost(tokens=30))


async def test_a_parent_orgs_limit_applies_to_its_teams(make_service: ServiceFactory) -> None:
    service = make_service({
        "org": {"limits": [{"kind": "tokens", "window": "month", "limit": 1000}]},
        "team-a": {"parent": "org"}, "team-b": {"parent": "org", "limits": [{"kind": "usd", "window": "day",
                                                                             "limit": 5}]},
    })  # fmt: skip
    await service.reserve("team-a", Cost(tokens=700))
    with pytest.raises(BudgetExceeded, match="'org'") as info:
        await service.reserve("team-b", Cost(tokens=400))
    assert info.value.details["limited_tenant"] == "org" and info.value.details["tenant"] == "team-b"
    left = await service.remaining("team-b")
    assert left is not None and left.tokens == 300 and left.usd == 5
    assert await service.remaining_usd("team-a") is None  # the org caps tokens only


async def test_settle_is_idempotent(make_service: ServiceFactory) -> None:
    service = make_service(DAY_CENT)
    ticket = await service.reserve("acme", Cost(usd=0.005))
    await asyncio.gather(*(service.settle(ticket, Cost(usd=0.002)) for _ in range(5)))
    await service.settle(ticket, Cost(usd=0.004))
    assert _window(await service.spend("acme"), "usd", "day")["spent"] == 0.002


async def test_hold_settles_what_was_spent_on_error_and_on_cancellation(make_service: ServiceFactory) -> None:
    service = make_service(DAY_CENT)
    with pytest.raises(RuntimeError, match="upstream 500"):
        async with service.hold("acme", Cost(usd=0.005)) as ticket:
            ticket.add(Cost(usd=0.001, tokens=40))  # the first call completed and was paid for
            raise RuntimeError("upstream 500")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05), service.hold("acme", Cost(usd=0.005)) as ticket:
            ticket.add(Cost(usd=0.002))
            await asyncio.sleep(10)  # the deadline (or a client disconnect) cancels the request here
    async with service.hold("acme", Cost(usd=0.003)) as ticket:
        ticket.add(Cost(usd=0.003))
    day = _window(await service.spend("acme"), "usd", "day")
    assert (day["spent"], day["reserved"]) == (0.006, 0.0)


@pytest.mark.redis
async def test_calls_whose_reply_is_lost_are_released_or_settled_once(redis_url: str, prefix: str) -> None:
    proxy = ReplyDelayProxy(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    tenants = {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 1}]}}
    service = BudgetService.create(make_policy(tenants, store="redis", redis_url=proxy.url, key_prefix=prefix))
    direct = BudgetService.create(make_policy(tenants, store="redis", redis_url=redis_url, key_prefix=prefix))
    ticket = await service.reserve("acme", Cost(usd=0.001))
    proxy.reply_delay_s = 0.3
    task = asyncio.create_task(service.reserve("acme", Cost(usd=0.005)))
    await asyncio.sleep(0.15)  # the server has applied it; the reply is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _window(await direct.spend("acme"), "usd", "day")["reserved"] == 0.006, "the cancelled reserve applied"
    proxy.reply_delay_s = 0
    await service.spend("acme")  # a fresh pooled connection (the cancelled call's was dropped)
    proxy.reply_delay_s = 0.3
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.15):
            await service.settle(ticket, Cost(usd=0.0005))  # applied too; the caller gives up before the reply
    assert service.pending_settlements == 2
    assert _window(await direct.spend("acme"), "usd", "day")["spent"] == 0.0005, "the abandoned settle applied"
    proxy.reply_delay_s = 0
    await service.tick()
    day = _window(await direct.spend("acme"), "usd", "day")
    assert (day["spent"], day["reserved"]) == (0.0005, 0.0), "released, and the settlement charged once"
    assert service.counters["duplicate_settlements"] == 1
    await service.aclose()
    await direct.aclose()
    await proxy.aclose()


async def test_run_time_overrides_replace_the_policys_limits(make_service: ServiceFactory) -> None:
    service = make_service(DAY_CENT)
    other_replica = make_service(DAY_CENT)
    limits = await service.set_limits("acme", {"limits": [{"kind": "usd", "window": "day", "limit": 0.001}],
                                               "rpm": 5})  # fmt: skip
    assert limits.rpm == 5 and limits.limits[0].limit == 0.001
    with pytest.raises(BudgetExceeded):
        await service.reserve("acme", Cost(usd=0.002))
    if service.keys.shared:  # every replica adopts it at its next background round
        await other_replica.tick()
        with pytest.raises(BudgetExceeded):
            await other_replica.reserve("acme", Cost(usd=0.002))
    await service.clear_limits("acme")
    await service.reserve("acme", Cost(usd=0.002))


async def test_a_tenant_without_limits_still_has_its_spend_recorded(make_service: ServiceFactory) -> None:
    service = make_service({})
    await service.settle(await service.reserve("anonymous", Cost(usd=1.5, tokens=10)), Cost(usd=0.25, tokens=7))
    view = await service.spend("anonymous")
    assert _window(view, "usd", "day")["spent"] == 0.25 and _window(view, "tokens", "month")["spent"] == 7
    assert await service.remaining("anonymous") is None


async def test_remaining_follows_limit_overrides_and_ignores_request_rate_limits(make_service: ServiceFactory) -> None:
    service = make_service({"acme": {"rpm": 100}, "team": {"parent": "acme"}})
    assert await service.remaining("team") is None  # a request rate limit says nothing about spend
    await service.set_limits("acme", {"limits": [{"kind": "usd", "window": "day", "limit": 2}]})
    await service.settle(await service.reserve("team", Cost(usd=0.5)), Cost(usd=0.5))
    left = await service.remaining("team")
    assert left is not None and left.usd == pytest.approx(1.5)
    await service.set_limits("acme", {"tpm": 1000})
    left = await service.remaining("team")
    assert left is not None and left.usd == float("inf") and left.tokens == 1000
    await service.clear_limits("acme")
    assert await service.remaining("team") is None


@pytest.mark.parametrize("mode", ["charge", "release"])
async def test_expired_reservations_are_reconciled(make_service: ServiceFactory, mode: str) -> None:
    service = make_service(DAY_CENT, reservation_ttl_s=0.05, expired_reservations=mode)
    await service.reserve("acme", Cost(usd=0.004))
    await asyncio.sleep(0.1)
    await service.tick()
    assert service.counters["reconciled"] == 1
    day = _window(await service.spend("acme"), "usd", "day")
    assert (day["spent"], day["reserved"]) == ((0.004 if mode == "charge" else 0.0), 0.0)


async def test_concurrent_tenants_are_exact_and_never_over_their_limits(make_service: ServiceFactory) -> None:
    limit = 0.02
    tenants = {"org": {"limits": [{"kind": "usd", "window": "day", "limit": 0.05}]}}
    tenants |= {t: {"parent": "org", "limits": [{"kind": "usd", "window": "day", "limit": limit}]} for t in "abc"}
    service = make_service(tenants)
    rng = random.Random(7)
    charged = {t: 0 for t in "abc"}

    async def one(tenant: str, worst: int, actual: int, fails: bool) -> None:
        try:
            async with service.hold(tenant, Cost(usd=worst / 1e6)) as ticket:
                await asyncio.sleep(0)
                ticket.add(Cost(usd=actual / 1e6))
                charged[tenant] += actual
                if fails:
                    raise ConnectionError("upstream dropped")
        except (BudgetExceeded, ConnectionError):
            pass

    jobs = [(rng.choice("abc"), rng.randint(100, 900), rng.randint(0, 100), rng.random() < 0.2) for _ in range(400)]
    await asyncio.gather(*(one(*job) for job in jobs))
    for tenant in "abc":
        day = _window(await service.spend(tenant), "usd", "day")
        assert round(day["spent"] * 1e6) == charged[tenant] and day["reserved"] == 0  # type: ignore[operator]
        assert day["spent"] <= limit  # type: ignore[operator]
    org = _window(await service.spend("org"), "usd", "day")
    assert round(org["spent"] * 1e6) == sum(charged.values()) <= 50_000  # type: ignore[operator]
