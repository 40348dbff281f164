"""The budget service: who is calling, whether their plan fits, and what it finally cost.

``reserve`` holds a plan's worst case (every sample and verifier call to the cap) against every
limit of the tenant and its parents, plus the request and token rate limits, atomically; ``settle``
charges what was actually spent and releases the rest — also after errors, timeouts and
disconnects (``hold`` does it in a ``finally``). Amounts are integer micro-dollars and tokens, so
sums are exact. When the store is down, ``fail_open`` serves and records the spend later,
``fail_closed`` answers 503; settlements that could not be written are queued and retried (with
backoff) until they are, never dropped. Reservations whose process died are reconciled when they
expire. Outages are logged once per outage and counted in ``counters`` (and passed to ``listener``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from router.budgets.config import BudgetsConfig
from router.budgets.keys import KeyStore
from router.budgets.limits import MICRO, Cost, LimitBook, TenantLimits, amount_of
from router.budgets.memory import MemoryStore
from router.budgets.meters import UNLIMITED, Meter, Refusal, Reservation, Settled, Store, StoreUnavailable
from router.budgets.pending import PendingSettlements
from router.budgets.redis_link import RedisLink
from router.budgets.redis_store import RedisStore
from router.budgets.shared import LocalMap, RedisMap, SharedMap
from router.budgets.windows import window_bucket
from router.errors import AuthenticationFailed, BudgetExceeded, RateLimited, ServiceUnavailable

__all__ = ["BudgetService", "Ticket"]

log = logging.getLogger("thinkroute.budgets")
REDIS_URL_ENV = "THINKROUTE_REDIS_URL"
EVENTS = ("store_errors", "fail_open", "fail_closed", "queued_settlements", "retried_settlements",
          "recovered_settlements", "duplicate_settlements", "reconciled", "unwritten_at_shutdown")  # fmt: skip
_HEADROOM_KINDS = frozenset({"usd", "tokens", "tokens_rate"})  # the limits ``remaining`` reports on


@dataclass
class Ticket:
    """What ``reserve`` returns and ``settle`` consumes; settling twice is a no-op.

    Inside ``hold``, add what each upstream call spent with :meth:`add`; the total is settled on exit.
    """

    tenant: str
    reservation: Reservation
    reserved: Cost
    settled: bool = False
    spent: Cost = field(default_factory=Cost)

    def add(self, cost: Cost) -> None:
        self.spent = self.spent + cost


class BudgetService:
    """Authenticates tenants and holds them to their budgets and rate limits."""

    def __init__(self, config: BudgetsConfig, store: Store, keys: KeyStore, overrides: SharedMap) -> None:
        self.config = config
        self.store = store
        self.keys = keys
        self.book = LimitBook(config.key_prefix)
        self._overrides = overrides
        self._pending = PendingSettlements()
        self._worker: asyncio.Task[None] | None = None
        self._down = False
        self._wake = asyncio.Event()
        self._closing = False
        self.counters = dict.fromkeys(EVENTS, 0)
        self.listener: Callable[[str, int], None] | None = None  # (event, increment), e.g. a metrics counter

    @classmethod
    def create(cls, policy: Any) -> BudgetService:
        """The service for a policy (``policy.budgets``, ``policy.tenants``): Redis when ``store: redis``,
        ``budgets.redis_url`` or ``THINKROUTE_REDIS_URL`` says so, else in-process. Call :meth:`start`
        inside the event loop and :meth:`aclose` at shutdown."""
        config: BudgetsConfig = policy.budgets
        url = os.environ.get(REDIS_URL_ENV) or config.redis_url
        tombstone_ttl_s = max(86_400.0, 2 * config.reservation_ttl_s)
        if config.store == "redis" or url:
            if not url:
                raise ValueError(f"budgets.store is redis but neither budgets.redis_url nor {REDIS_URL_ENV} is set")
            link = RedisLink(url)
            store: Store = RedisStore(link, config.key_prefix, tombstone_ttl_s)
            keys = KeyStore.redis(link, config.key_prefix)
            overrides: SharedMap = RedisMap(link, f"{config.key_prefix}:overrides")
        else:
            store, keys, overrides = MemoryStore(tombstone_ttl_s), KeyStore.local(), LocalMap()
        service = cls(config, store, keys, overrides)
        service.update_policy(policy)
        return service

    def update_policy(self, policy: Any) -> None:
        """Adopt a (re)loaded policy's tenants, limits and declared key hashes."""
        self.book.tenants = {name: TenantLimits.of(tenant) for name, tenant in policy.tenants.items()}
        self.keys.declare({h: name for name, tenant in policy.tenants.items() for h in tenant.api_key_hashes})

    def known_tenant(self, tenant: str) -> bool:
        """A tenant of the policy, or the anonymous tenant."""
        return self.book.known(tenant) or tenant == self.config.anonymous_tenant

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background task: retry queued settlements, reconcile expired reservations, sync overrides."""
        self._worker = asyncio.get_running_loop().create_task(self._background())

    async def aclose(self, drain_s: float = 2.0) -> None:
        """Stop the background task, try to write queued settlements for up to ``drain_s``, close the store."""
        self._closing = True  # the worker stops even if a cancellation is lost (wait_for in 3.11 may drop one)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        deadline = time.monotonic() + drain_s
        while self.pending_settlements and time.monotonic() < deadline:
            await self.flush()
            if self.pending_settlements:
                await asyncio.sleep(0.1)
        if self.pending_settlements:
            self._count("unwritten_at_shutdown", self.pending_settlements)
            log.error("%d budget settlements could not be written before shutdown", self.pending_settlements)
        await self.store.aclose()

    async def _background(self) -> None:
        pause = 0.0  # the first round at once: adopt the limit overrides other replicas set
        while not self._closing:
            with contextlib.suppress(TimeoutError):  # a request that reaches the store again wakes it at once
                async with asyncio.timeout(pause):
                    await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                await self.tick()
                pause = 1.0
                if self._down:
                    self._recovered()
            except StoreUnavailable as exc:
                self._outage(exc)
                pause = min(4.0, max(0.5, pause * 2))
            except Exception:
                log.exception("budget background task failed; will retry")
                pause = min(4.0, max(0.5, pause * 2))

    async def tick(self) -> None:
        """One round of background work (tests call it directly). Raises StoreUnavailable while the store is down."""
        await self.flush()
        if self.pending_settlements:
            raise StoreUnavailable("queued settlements still unwritten")
        self._count("reconciled", await self.store.reconcile(self.config.expired_reservations == "charge"))
        if self.keys.shared:
            self.book.load_overrides(await self._overrides.items())

    async def flush(self) -> int:
        """Write queued settlements now; returns how many were written."""
        results = await self._pending.flush(self.store)
        for result in results:
            self._count("retried_settlements")
            self._note_settled(result)
        if results:
            self._recovered()
            log.info("wrote %d queued budget settlements (%d still queued)", len(results), self.pending_settlements)
        return len(results)

    @property
    def pending_settlements(self) -> int:
        return len(self._pending)

    # -- authentication --------------------------------------------------------------------------

    async def authenticate(self, authorization: str | None) -> str:
        """The tenant of ``Authorization: Bearer <key>``; the anonymous tenant when no key is sent and the
        policy allows it (or, single replica with no keys at all, for any key). 401 for an unknown or
        revoked key; 503 when the key store cannot answer (fail_open still accepts keys seen before)."""
        token = ""
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        if not token:
            if self.config.allow_anonymous:
                return self.config.anonymous_tenant
            raise AuthenticationFailed("Missing API key: send Authorization: Bearer <key>.")
        if self.config.allow_anonymous and not self.keys.may_have_keys:
            return self.config.anonymous_tenant
        try:
            tenant = await self.keys.lookup(token, stale_ok=self.config.fail_mode == "fail_open")
        except StoreUnavailable as exc:
            self._outage(exc)
            raise ServiceUnavailable("Key store unavailable; try again shortly.", retry_after=2) from None
        if tenant is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        return tenant

    # -- reserve and settle ----------------------------------------------------------------------

    async def reserve(self, tenant: str, worst: Cost, request_id: str | None = None) -> Ticket:
        """Hold ``worst`` against every limit of ``tenant`` and its parents, atomically.

        Raises BudgetExceeded (402) or RateLimited (429, ``retry_after``) when it does not fit, and
        ServiceUnavailable (503) when the store is down under ``fail_closed``."""
        meters = self.book.meters(tenant, worst, time.time())
        rid = f"{request_id}-{uuid.uuid4().hex[:8]}" if request_id else uuid.uuid4().hex
        try:
            reservation = await self.store.reserve(rid, meters, self.config.reservation_ttl_s)
        except StoreUnavailable as exc:
            self._outage(exc)
            if self.config.fail_mode == "fail_open":
                self._count("fail_open")  # settling it later releases the hold if the reserve did reach Redis
                return Ticket(tenant, Reservation(rid, meters, recorded=False), worst)
            self._count("fail_closed")
            if exc.sent:  # it may have been applied before the connection broke: release it once Redis is back
                self._queue(tenant, Reservation(rid, meters, recorded=False), [0] * len(meters))
            raise ServiceUnavailable("Budget store unavailable; try again shortly.", retry_after=2) from None
        except asyncio.CancelledError:  # the caller gave up mid-call: release whatever may have been held
            self._queue(tenant, Reservation(rid, meters, recorded=False), [0] * len(meters))
            raise
        self._recovered()
        if reservation.refused is not None:
            _refuse(tenant, reservation.refused)
        return Ticket(tenant, reservation, worst)

    async def settle(self, ticket: Ticket, actual: Cost) -> None:
        """Charge what was spent and release the rest; idempotent; queued and retried if the store is down."""
        if ticket.settled:
            return
        ticket.settled = True
        reservation = ticket.reservation
        amounts = [amount_of(m.kind, actual) for m in reservation.meters]
        try:
            result = await self.store.settle(reservation, amounts)
        except StoreUnavailable as exc:
            self._outage(exc)
            self._queue(ticket.tenant, reservation, amounts)
            return
        except asyncio.CancelledError:  # cancelled mid-call: it may or may not have been written; a retry is idempotent
            self._queue(ticket.tenant, reservation, amounts)
            raise
        self._recovered()
        self._note_settled(result)

    @contextlib.asynccontextmanager
    async def hold(self, tenant: str, worst: Cost, request_id: str | None = None) -> AsyncIterator[Ticket]:
        """``async with service.hold(tenant, worst) as ticket:`` reserve, run, ``ticket.add(cost)`` per call;
        ``ticket.spent`` is settled on exit, whatever happened (error, timeout, cancellation)."""
        ticket = await self.reserve(tenant, worst, request_id)
        try:
            yield ticket
        finally:
            await asyncio.shield(self.settle(ticket, ticket.spent))

    def _queue(self, tenant: str, reservation: Reservation, amounts: list[int]) -> None:
        self._pending.add(tenant, reservation, amounts)
        self._count("queued_settlements")

    def _note_settled(self, result: Settled) -> None:
        if result is Settled.RECOVERED:
            self._count("recovered_settlements")
        elif result is Settled.DUPLICATE:
            self._count("duplicate_settlements")

    # -- limits and spend ------------------------------------------------------------------------

    async def set_limits(self, tenant: str, override: dict[str, Any]) -> TenantLimits:
        """Override ``limits``, ``rpm`` and/or ``tpm`` of a tenant at run time (shared with every replica)."""
        import json

        try:
            await self._overrides.set(tenant, json.dumps(override))
        except StoreUnavailable as exc:
            raise ServiceUnavailable("Budget store unavailable; try again shortly.", retry_after=2) from exc
        self.book.overrides[tenant] = override
        return self.book.effective(tenant)

    async def clear_limits(self, tenant: str) -> TenantLimits:
        """Back to the policy's limits."""
        try:
            await self._overrides.delete(tenant)
        except StoreUnavailable as exc:
            raise ServiceUnavailable("Budget store unavailable; try again shortly.", retry_after=2) from exc
        self.book.overrides.pop(tenant, None)
        return self.book.effective(tenant)

    async def spend(self, tenant: str) -> dict[str, Any]:
        """Spend, reserved and remaining per window of ``tenant`` (USD in dollars); 503 when the store is down."""
        now = time.time()
        meters = self.book.meters(tenant, Cost(), now, chain=False)
        try:
            states = await self.store.read([m.key for m in meters])
        except StoreUnavailable as exc:
            raise ServiceUnavailable("Budget store unavailable; try again shortly.", retry_after=2) from exc
        windows = []
        for meter, state in zip(meters, states, strict=True):
            scale = MICRO if meter.kind == "usd" else 1
            unlimited = meter.limit == UNLIMITED
            left = None if unlimited else max(0, meter.limit - state.spent - state.held) / scale
            windows.append({
                "kind": meter.kind, "window": meter.window, "bucket": meter.key.rsplit(":", 1)[-1],
                "limit": None if unlimited else meter.limit / scale, "spent": state.spent / scale,
                "reserved": state.held / scale, "remaining": left,
                "resets_in_s": round(window_bucket(meter.window, now)[1], 3),
            })  # fmt: skip
        return {"tenant": tenant, "parent": self.book.effective(tenant).parent, "windows": windows}

    async def remaining(self, tenant: str) -> Cost | None:
        """The least headroom across the tenant's and its parents' USD and token limits (``None``: no limits).

        An unlimited dimension is reported as ``inf`` USD or a very large token count. Raises StoreUnavailable."""
        if not self.book.limited_kinds(tenant) & _HEADROOM_KINDS:  # no meters to read: the common case
            return None
        meters = [m for m in self.book.meters(tenant, Cost(), time.time()) if m.limit != UNLIMITED]
        states = await self.store.read([m.key for m in meters])
        usd, tokens = float("inf"), 2**62
        for meter, state in zip(meters, states, strict=True):
            left = max(0, meter.limit - state.spent - state.held)
            if meter.kind == "usd":
                usd = min(usd, left / MICRO)
            elif meter.kind in ("tokens", "tokens_rate"):
                tokens = min(tokens, left)
        return Cost(usd=usd, tokens=tokens)

    async def remaining_usd(self, tenant: str) -> float | None:
        """The smallest USD headroom across the tenant's and its parents' windows (``None`` when unlimited)."""
        left = await self.remaining(tenant)
        return None if left is None or left.usd == float("inf") else left.usd

    # -- outage bookkeeping ----------------------------------------------------------------------

    def _count(self, event: str, n: int = 1) -> None:
        self.counters[event] = self.counters.get(event, 0) + n
        if self.listener is not None:
            with contextlib.suppress(Exception):
                self.listener(event, n)

    def _outage(self, exc: StoreUnavailable) -> None:
        self._count("store_errors")
        if not self._down:
            self._down = True
            log.warning("budget store unavailable (%s): %s; settlements are queued and retried", self.config.fail_mode,
                        exc)  # fmt: skip

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            self._wake.set()
            log.warning("budget store reachable again (%d settlements queued)", self.pending_settlements)


def _refuse(tenant: str, refusal: Refusal) -> None:
    meter: Meter = refusal.meter
    _, seconds = window_bucket(meter.window, time.time())
    if meter.kind in ("requests", "tokens_rate"):
        what = "requests per minute" if meter.kind == "requests" else "tokens per minute"
        raise RateLimited(
            f"Rate limit of {meter.limit} {what} reached for tenant {meter.tenant!r}.",
            retry_after=seconds, details={"tenant": tenant, "limited_tenant": meter.tenant, "kind": meter.kind},
        )  # fmt: skip
    scale = MICRO if meter.kind == "usd" else 1
    unit = "USD" if meter.kind == "usd" else "tokens"
    limit, asked, left = meter.limit / scale, meter.amount / scale, max(0, refusal.remaining) / scale
    raise BudgetExceeded(
        f"Budget of {limit:g} {unit} per {meter.window} would be exceeded for tenant {meter.tenant!r}: "
        f"this request may cost up to {asked:g} {unit}, {left:g} {unit} remain.",
        details={"tenant": tenant, "limited_tenant": meter.tenant, "kind": meter.kind, "window": meter.window,
                 "limit": limit, "remaining": left, "requested": asked, "retry_after_s": round(seconds)},
    )  # fmt: skip
