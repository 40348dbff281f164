"""The budget service: who is calling, whether their plan fits, and what it finally cost.

``reserve`` holds a plan's worst case (every sample and verifier call to the cap) against every
limit of the tenant and its parent, plus the request and token rate limits; ``settle`` charges
what was actually spent and releases the rest — also after errors, timeouts and disconnects (the
caller settles in a ``finally``). Amounts are integer micro-dollars and tokens, so sums are exact.
When the store is down, ``fail_open`` serves and records the spend later, ``fail_closed`` answers 503;
settlements that could not be written are retried until they are, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from router.budgets.config import BudgetLimit, BudgetsConfig
from router.budgets.keys import KeyStore
from router.budgets.stores import MemoryStore, Meter, RedisStore, Reservation, Store, StoreUnavailable
from router.budgets.windows import window_bucket
from router.errors import AuthenticationFailed, BudgetExceeded, RateLimited, ServiceUnavailable

if TYPE_CHECKING:
    from router.policy.schema import Policy, TenantPolicy

__all__ = ["BudgetService", "Cost", "Ticket"]

log = logging.getLogger("thinkroute.budgets")
MICRO = 1_000_000


@dataclass(frozen=True)
class Cost:
    """USD and tokens of a request (worst case when reserving, actual when settling)."""

    usd: float = 0.0
    tokens: int = 0


@dataclass
class Ticket:
    """What ``reserve`` returns and ``settle`` consumes; settling twice is a no-op."""

    tenant: str
    reservation: Reservation
    reserved: Cost
    settled: bool = False


def _amount(meter: Meter, cost: Cost) -> int:
    if meter.kind == "usd":
        return round(cost.usd * MICRO)
    if meter.kind in ("tokens", "tokens_rate"):
        return int(cost.tokens)
    return 1  # requests


class BudgetService:
    """Authenticates tenants and holds them to their budgets and rate limits."""

    def __init__(self, config: BudgetsConfig, store: Store, keys: KeyStore) -> None:
        self.config = config
        self.store = store
        self.keys = keys
        self.tenants: dict[str, TenantPolicy] = {}
        self.overrides: dict[str, list[BudgetLimit]] = {}
        self._pending: list[tuple[Reservation | None, list[Meter], list[int]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.counters = {"store_errors": 0, "fail_open": 0, "retried_settlements": 0, "reconciled": 0}

    @classmethod
    def create(cls, policy: Policy) -> BudgetService:
        """The service for a policy: Redis when configured (or ``THINKROUTE_REDIS_URL``), else in-process."""
        config = policy.budgets
        url = os.environ.get("THINKROUTE_REDIS_URL") or config.redis_url
        if config.store == "redis" or url:
            if not url:
                raise ValueError("budgets.store is redis but neither budgets.redis_url nor THINKROUTE_REDIS_URL is set")
            store: Store = RedisStore(url, config.key_prefix)
            keys = KeyStore(store._redis, config.key_prefix)  # type: ignore[attr-defined]
        else:
            store, keys = MemoryStore(), KeyStore(None, config.key_prefix)
        service = cls(config, store, keys)
        service.update_policy(policy)
        return service

    def update_policy(self, policy: Policy) -> None:
        """Adopt a (re)loaded policy's tenants and declared keys."""
        self.tenants = dict(policy.tenants)
        for name, tenant in policy.tenants.items():
            self.keys.declare(name, list(tenant.api_key_hashes))

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._background())

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self._flush_pending()
        await self.store.aclose()

    async def authenticate(self, authorization: str | None) -> str:
        """Tenant of ``Authorization: Bearer <key>``; anonymous when no key and the policy allows it."""
        token = ""
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        if not token:
            if self.config.allow_anonymous:
                return self.config.anonymous_tenant
            raise AuthenticationFailed("Missing API key: send Authorization: Bearer <key>.")
        if self.config.allow_anonymous and not self._has_keys():
            return self.config.anonymous_tenant  # an embedded deployment with no keys: any key is anonymous
        try:
            tenant = await self.keys.lookup(token)
        except StoreUnavailable:
            tenant = None
        if tenant is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        return tenant

    def _has_keys(self) -> bool:
        return bool(self.keys._local) or isinstance(self.store, RedisStore)

    def limits_of(self, tenant: str) -> list[BudgetLimit]:
        if tenant in self.overrides:
            return self.overrides[tenant]
        policy = self.tenants.get(tenant)
        return list(policy.limits) if policy else []

    def _meters(self, tenant: str, cost: Cost, now: float) -> list[Meter]:
        meters: list[Meter] = []
        chain, seen = [tenant], {tenant}
        while (parent := getattr(self.tenants.get(chain[-1]), "parent", None)) and parent not in seen:
            chain.append(parent)
            seen.add(parent)
        prefix = self.config.key_prefix
        for name in chain:
            for limit in self.limits_of(name):
                bucket, ttl = window_bucket(limit.window, now)
                scale = MICRO if limit.kind == "usd" else 1
                meter = Meter(f"{prefix}:{name}:{limit.kind}:{limit.window}:{bucket}", round(limit.limit * scale), 0,
                              ttl + 60, limit.kind)  # fmt: skip
                meters.append(Meter(meter.key, meter.limit, _amount(meter, cost), meter.ttl_s, meter.kind))
            policy = self.tenants.get(name)
            bucket, ttl = window_bucket("minute", now)
            rates = (("requests", getattr(policy, "rpm", None)), ("tokens_rate", getattr(policy, "tpm", None)))
            for kind, limit_value in rates:
                if limit_value:
                    meter = Meter(f"{prefix}:{name}:{kind}:minute:{bucket}", int(limit_value), 0, ttl + 60, kind)
                    meters.append(Meter(meter.key, meter.limit, _amount(meter, cost), meter.ttl_s, kind))
        return meters

    async def reserve(self, tenant: str, worst: Cost) -> Ticket:
        """Hold ``worst`` against every limit, atomically; raise 402/429 when it does not fit."""
        meters = self._meters(tenant, worst, time.time())
        if not meters:
            return Ticket(tenant, Reservation("", [], recorded=False), worst)
        try:
            reservation = await self.store.reserve(meters, self.config.reservation_ttl_s)
        except StoreUnavailable as exc:
            self.counters["store_errors"] += 1
            if self.config.fail_mode == "fail_closed":
                log.error("budget store unavailable, refusing (fail_closed): %s", exc)
                raise ServiceUnavailable("Budget store unavailable; try again shortly.", retry_after=2) from None
            self.counters["fail_open"] += 1
            log.warning("budget store unavailable, serving anyway (fail_open): %s", exc)
            return Ticket(tenant, Reservation("", meters, recorded=False), worst)
        if reservation.blocked_by is not None:
            self._refuse(tenant, reservation.blocked_by)
        return Ticket(tenant, reservation, worst)

    @staticmethod
    def _refuse(tenant: str, meter: Meter) -> None:
        _, seconds = window_bucket(meter.key.split(":")[-2], time.time())
        if meter.kind in ("requests", "tokens_rate"):
            what = "requests per minute" if meter.kind == "requests" else "tokens per minute"
            raise RateLimited(f"Rate limit of {meter.limit} {what} reached for tenant {tenant!r}.", retry_after=seconds)
        scale = MICRO if meter.kind == "usd" else 1
        limit, asked = meter.limit / scale, meter.amount / scale
        unit = "USD" if meter.kind == "usd" else "tokens"
        owner, window = meter.key.split(":")[-4], meter.key.split(":")[-2]
        raise BudgetExceeded(
            f"Budget of {limit:g} {unit} per {window} would be exceeded for tenant {owner!r}; "
            f"this request may cost up to {asked:g} {unit}.",
            details={"tenant": tenant, "limit": limit, "unit": unit, "retry_after_s": round(seconds)},
        )

    async def settle(self, ticket: Ticket, actual: Cost) -> None:
        """Charge what was spent, release the rest; idempotent, retried until written."""
        if ticket.settled:
            return
        ticket.settled = True
        meters = ticket.reservation.meters
        amounts = [_amount(m, actual) for m in meters]
        if not meters:
            return
        try:
            if ticket.reservation.recorded:
                await self.store.settle(ticket.reservation, amounts)
            else:
                await self.store.charge(meters, amounts)
        except StoreUnavailable:
            self.counters["store_errors"] += 1
            log.warning("settlement for tenant %s queued: budget store unavailable", ticket.tenant)
            self._pending.append((ticket.reservation if ticket.reservation.recorded else None, meters, amounts))

    async def _flush_pending(self) -> None:
        still: list[tuple[Reservation | None, list[Meter], list[int]]] = []
        for reservation, meters, amounts in self._pending:
            try:
                if reservation is not None:
                    await self.store.settle(reservation, amounts)
                else:
                    await self.store.charge(meters, amounts)
                self.counters["retried_settlements"] += 1
            except StoreUnavailable:
                still.append((reservation, meters, amounts))
        self._pending = still

    @property
    def pending_settlements(self) -> int:
        return len(self._pending)

    async def _background(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._flush_pending()
                self.counters["reconciled"] += await self.store.reconcile()
            except StoreUnavailable:
                self.counters["store_errors"] += 1
            except Exception:
                log.exception("budget background task failed; will retry")

    async def remaining_usd(self, tenant: str) -> float | None:
        """The smallest USD headroom across the tenant's windows (``None`` when unlimited)."""
        view = await self.spend(tenant)
        left = [w["remaining"] for w in view["windows"] if w["kind"] == "usd"]
        return min(left) if left else None

    async def spend(self, tenant: str) -> dict[str, Any]:
        """Spend and remaining per window for ``tenant``."""
        meters = [m for m in self._meters(tenant, Cost(), time.time()) if f":{tenant}:" in m.key]
        states = await self.store.read([m.key for m in meters])
        windows = []
        for meter, state in zip(meters, states, strict=True):
            scale = MICRO if meter.kind == "usd" else 1
            windows.append({
                "kind": meter.kind, "window": meter.key.split(":")[-2], "bucket": meter.key.split(":")[-1],
                "limit": meter.limit / scale, "spent": state.spent / scale, "reserved": state.held / scale,
                "remaining": max(0, meter.limit - state.spent - state.held) / scale,
            })  # fmt: skip
        return {"tenant": tenant, "windows": windows}
