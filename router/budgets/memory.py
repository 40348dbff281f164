"""The in-process budget store (one replica): the semantics of :mod:`router.budgets.meters`, under one lock."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from router.budgets.meters import UNLIMITED, Meter, MeterState, Refusal, Reservation, Settled

__all__ = ["MemoryStore"]


@dataclass
class _Counter:
    spent: int
    held: int
    expires_at: float


class MemoryStore:
    """Single-process store; an asyncio lock makes every operation atomic. Expired windows are pruned."""

    def __init__(self, tombstone_ttl_s: float = 86_400.0) -> None:
        self._meters: dict[str, _Counter] = {}
        self._open: dict[str, tuple[float, list[Meter]]] = {}
        self._tombstones: dict[str, float] = {}
        self._tombstone_ttl_s = tombstone_ttl_s
        self._lock = asyncio.Lock()

    def _counter(self, meter: Meter, now: float) -> _Counter:
        state = self._meters.get(meter.key)
        if state is None or state.expires_at <= now:
            state = self._meters[meter.key] = _Counter(0, 0, now + meter.ttl_s)
        return state

    async def reserve(self, rid: str, meters: list[Meter], ttl_s: float) -> Reservation:
        async with self._lock:
            now = time.time()
            if rid in self._open or self._tombstones.get(rid, 0.0) > now:  # a retry, or already released
                return Reservation(rid, meters)
            for meter in meters:
                state = self._counter(meter, now)
                if meter.limit != UNLIMITED and state.spent + state.held + meter.amount > meter.limit:
                    return Reservation(rid, meters, refused=Refusal(meter, meter.limit - state.spent - state.held))
            for meter in meters:
                self._counter(meter, now).held += meter.amount
            self._open[rid] = (now + ttl_s, meters)
            return Reservation(rid, meters)

    async def settle(self, reservation: Reservation, actual: list[int], probe: bool = False) -> Settled:
        async with self._lock:
            return self._settle(reservation.id, reservation.meters, actual)

    def _settle(self, rid: str, meters: list[Meter], actual: list[int]) -> Settled:
        now = time.time()
        entry = self._open.pop(rid, None)
        if entry is None and self._tombstones.get(rid, 0.0) > now:
            return Settled.DUPLICATE
        for meter, amount in zip(meters, actual, strict=True):
            state = self._counter(meter, now)
            if entry is not None:
                state.held = max(0, state.held - meter.amount)
            state.spent += amount
        self._tombstones[rid] = now + self._tombstone_ttl_s
        return Settled.SETTLED if entry is not None else Settled.RECOVERED

    async def read(self, keys: list[str]) -> list[MeterState]:
        now = time.time()
        out = []
        for key in keys:
            state = self._meters.get(key)
            live = state is not None and state.expires_at > now
            out.append(MeterState(state.spent, state.held) if state is not None and live else MeterState())
        return out

    async def reconcile(self, charge: bool) -> int:
        async with self._lock:
            now = time.time()
            expired = [rid for rid, (deadline, _) in self._open.items() if deadline <= now]
            for rid in expired:
                meters = self._open[rid][1]
                self._settle(rid, meters, [m.amount if charge else 0 for m in meters])
            self._prune(now)
            return len(expired)

    def _prune(self, now: float) -> None:
        held = {m.key for _, meters in self._open.values() for m in meters}
        for key in [k for k, s in self._meters.items() if s.expires_at <= now and k not in held]:
            del self._meters[key]
        for rid in [r for r, until in self._tombstones.items() if until <= now]:
            del self._tombstones[rid]

    async def aclose(self) -> None:
        return None
