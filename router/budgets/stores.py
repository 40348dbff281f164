"""Budget stores: atomic reserve-and-settle over meters, in-process or in Redis with the same semantics.

A *meter* is one limit in one aligned window (``tenant:usd:day:20261125``) holding two counters:
``spent`` (settled) and ``held`` (reserved, not yet settled). A reservation succeeds only if every
one of its meters has ``spent + held + amount <= limit``; then it adds ``amount`` to each ``held``,
all at once. Settling moves the reservation out of ``held`` and adds the actual amounts to
``spent``; a reservation settles at most once. Reservations that are never settled (a process
killed between reserve and settle) expire and are reconciled by charging their reserved worst case,
since the work they covered may have run.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["MemoryStore", "Meter", "MeterState", "RedisStore", "Reservation", "Store", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The budget store cannot be reached (Redis down)."""


@dataclass(frozen=True)
class Meter:
    """One limit in one window and how much of it a request asks for."""

    key: str
    limit: int
    amount: int
    ttl_s: float
    kind: str  # usd | tokens | requests | tokens_rate


@dataclass
class Reservation:
    """A successful hold; ``recorded`` is False when made fail-open without the store."""

    id: str
    meters: list[Meter]
    recorded: bool = True
    settled: bool = False
    blocked_by: Meter | None = None


@dataclass
class MeterState:
    spent: int = 0
    held: int = 0
    expires_at: float = field(default=0.0)


class Store(Protocol):
    async def reserve(self, meters: list[Meter], ttl_s: float) -> Reservation: ...
    async def settle(self, reservation: Reservation, actual: list[int]) -> bool: ...
    async def charge(self, meters: list[Meter], actual: list[int]) -> None: ...
    async def read(self, keys: list[str]) -> list[MeterState]: ...
    async def reconcile(self) -> int: ...
    async def aclose(self) -> None: ...


class MemoryStore:
    """Single-process store; an asyncio lock makes every operation atomic."""

    def __init__(self) -> None:
        self._meters: dict[str, MeterState] = {}
        self._open: dict[str, tuple[float, list[Meter]]] = {}
        self._lock = asyncio.Lock()

    def _meter(self, key: str, ttl_s: float, now: float) -> MeterState:
        state = self._meters.get(key)
        if state is None or state.expires_at <= now:
            state = self._meters[key] = MeterState(expires_at=now + ttl_s)
        return state

    async def reserve(self, meters: list[Meter], ttl_s: float) -> Reservation:
        async with self._lock:
            now = time.time()
            for meter in meters:
                state = self._meter(meter.key, meter.ttl_s, now)
                if state.spent + state.held + meter.amount > meter.limit:
                    return Reservation("", meters, blocked_by=meter)
            for meter in meters:
                self._meters[meter.key].held += meter.amount
            reservation = Reservation(uuid.uuid4().hex, meters)
            self._open[reservation.id] = (now + ttl_s, meters)
            return reservation

    async def settle(self, reservation: Reservation, actual: list[int]) -> bool:
        async with self._lock:
            entry = self._open.pop(reservation.id, None)
            if entry is None:
                return False
            now = time.time()
            for meter, amount in zip(entry[1], actual, strict=True):
                state = self._meter(meter.key, meter.ttl_s, now)
                state.held = max(0, state.held - meter.amount)
                state.spent += amount
            return True

    async def charge(self, meters: list[Meter], actual: list[int]) -> None:
        async with self._lock:
            now = time.time()
            for meter, amount in zip(meters, actual, strict=True):
                self._meter(meter.key, meter.ttl_s, now).spent += amount

    async def read(self, keys: list[str]) -> list[MeterState]:
        now = time.time()
        out = []
        for key in keys:
            state = self._meters.get(key)
            live = state is not None and state.expires_at > now
            out.append(MeterState(state.spent, state.held) if live and state else MeterState())
        return out

    async def reconcile(self) -> int:
        now = time.time()
        expired = [rid for rid, (deadline, _) in self._open.items() if deadline <= now]
        for rid in expired:
            meters = self._open[rid][1]
            await self.settle(Reservation(rid, meters), [m.amount for m in meters])
        return len(expired)

    async def aclose(self) -> None:
        return None


_RESERVE = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local limit = tonumber(ARGV[1 + (i - 1) * 3 + 1])
  local amount = tonumber(ARGV[1 + (i - 1) * 3 + 2])
  local spent = tonumber(redis.call('HGET', KEYS[i], 'spent') or '0')
  local held = tonumber(redis.call('HGET', KEYS[i], 'held') or '0')
  if spent + held + amount > limit then return i end
end
for i = 1, n do
  local amount = tonumber(ARGV[1 + (i - 1) * 3 + 2])
  local ttl = tonumber(ARGV[1 + (i - 1) * 3 + 3])
  redis.call('HINCRBY', KEYS[i], 'held', amount)
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
local base = 1 + n * 3
redis.call('HSET', KEYS[n + 1], ARGV[base + 1], ARGV[base + 2])
redis.call('ZADD', KEYS[n + 2], ARGV[base + 3], ARGV[base + 1])
return 0
"""

_SETTLE = """
local payload = redis.call('HGET', KEYS[1], ARGV[1])
if not payload then return 0 end
local meters = cjson.decode(payload)
for i, m in ipairs(meters) do
  redis.call('HINCRBY', m[1], 'held', -tonumber(m[2]))
  redis.call('HINCRBY', m[1], 'spent', tonumber(ARGV[1 + i]))
  if redis.call('PTTL', m[1]) < 0 then redis.call('PEXPIRE', m[1], tonumber(m[3])) end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

_CHARGE = """
for i = 1, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'spent', tonumber(ARGV[(i - 1) * 2 + 1]))
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[(i - 1) * 2 + 2])) end
end
return 1
"""


class RedisStore:
    """The same semantics in Redis, atomic through Lua scripts; keys expire with their window."""

    def __init__(self, url: str, prefix: str = "thinkroute") -> None:
        import redis.asyncio as redis

        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=5.0, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._redis: Any = redis.Redis(connection_pool=pool)
        self._reservations = f"{prefix}:reservations"
        self._index = f"{prefix}:reservations:expiry"
        self._reserve = self._redis.register_script(_RESERVE)
        self._settle = self._redis.register_script(_SETTLE)
        self._charge = self._redis.register_script(_CHARGE)

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        try:
            return await script(keys=keys, args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:  # incl. pool exhaustion
            raise StoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc

    async def reserve(self, meters: list[Meter], ttl_s: float) -> Reservation:
        rid = uuid.uuid4().hex
        payload = json.dumps([[m.key, m.amount, int(m.ttl_s * 1000)] for m in meters])
        args: list[Any] = [len(meters)]
        for m in meters:
            args += [m.limit, m.amount, int(m.ttl_s * 1000)]
        args += [rid, payload, time.time() + ttl_s]
        keys = [m.key for m in meters] + [self._reservations, self._index]
        blocked = int(await self._call(self._reserve, keys, args))
        if blocked:
            return Reservation("", meters, blocked_by=meters[blocked - 1])
        return Reservation(rid, meters)

    async def settle(self, reservation: Reservation, actual: list[int]) -> bool:
        keys = [self._reservations, self._index]
        return bool(await self._call(self._settle, keys, [reservation.id, *actual]))

    async def charge(self, meters: list[Meter], actual: list[int]) -> None:
        args: list[Any] = []
        for meter, amount in zip(meters, actual, strict=True):
            args += [amount, int(meter.ttl_s * 1000)]
        await self._call(self._charge, [m.key for m in meters], args)

    async def read(self, keys: list[str]) -> list[MeterState]:
        from redis.exceptions import RedisError

        try:
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, "spent", "held")
            rows = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc
        return [MeterState(int(s or 0), int(h or 0)) for s, h in rows]

    async def reconcile(self) -> int:
        """Charge reservations past their expiry at their reserved amounts; returns how many."""
        from redis.exceptions import RedisError

        try:
            expired = await self._redis.zrangebyscore(self._index, "-inf", time.time())
            done = 0
            for raw in expired:
                rid = raw.decode() if isinstance(raw, bytes) else str(raw)
                payload = await self._redis.hget(self._reservations, rid)
                if payload is None:
                    await self._redis.zrem(self._index, rid)
                    continue
                amounts = [int(m[1]) for m in json.loads(payload)]
                done += int(await self._settle(keys=[self._reservations, self._index], args=[rid, *amounts]))
            return done
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        await self._redis.aclose()
