"""Settlements the store could not take (it was down), kept in order and retried until written.

Each entry carries its reservation id, and settling is idempotent per id in both stores, so a retry
whose first attempt did reach the store never charges twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from router.budgets.meters import Reservation, Settled, Store, StoreUnavailable

__all__ = ["PendingSettlements"]


@dataclass(frozen=True)
class _Entry:
    tenant: str
    reservation: Reservation
    amounts: list[int]
    queued_at: float


class PendingSettlements:
    """A FIFO of unwritten settlements; :meth:`flush` writes them in order and stops at the first failure."""

    def __init__(self) -> None:
        self._queue: deque[_Entry] = deque()
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, tenant: str, reservation: Reservation, amounts: list[int]) -> None:
        self._queue.append(_Entry(tenant, reservation, amounts, time.monotonic()))

    def oldest_age_s(self) -> float:
        return time.monotonic() - self._queue[0].queued_at if self._queue else 0.0

    async def flush(self, store: Store) -> list[Settled]:
        """Write queued settlements in order, stopping (the rest still queued) if the store fails again;
        returns what each written one did."""
        done: list[Settled] = []
        async with self._lock:
            while self._queue:
                entry = self._queue[0]
                try:
                    done.append(await store.settle(entry.reservation, entry.amounts, probe=True))
                except StoreUnavailable:
                    break
                self._queue.popleft()
        return done
