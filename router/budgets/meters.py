"""What budget stores count: meters, reservations, and the store protocol both stores implement.

A *meter* is one limit of one tenant in one aligned window (``{prefix}:{tenant}:usd:day:20261125``)
holding two counters: ``spent`` (settled) and ``held`` (reserved, not yet settled). A reservation
succeeds only if every one of its meters has ``spent + held + amount <= limit``; then it adds
``amount`` to each ``held``, all at once. Settling moves the reservation out of ``held`` and adds the
actual amounts to ``spent``; a reservation settles at most once (a tombstone remembers it). A meter
with ``limit < 0`` only records (spend of a tenant without that limit). Reservations that are never
settled (a process killed between reserve and settle) expire and are reconciled.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol

__all__ = ["UNLIMITED", "Meter", "MeterState", "Refusal", "Reservation", "Settled", "Store", "StoreUnavailable"]

UNLIMITED = -1
MeterKind = Literal["usd", "tokens", "requests", "tokens_rate"]


class StoreUnavailable(Exception):
    """The budget store cannot be reached (Redis down, timing out or read-only).

    ``sent`` is False when the call was never sent (a recent failure held it back), so it cannot have taken effect.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class Meter:
    """One limit of one tenant in one window, and how much of it a request asks for."""

    key: str
    tenant: str
    kind: MeterKind
    window: str
    limit: int  # micro-dollars, tokens or requests; UNLIMITED only records
    amount: int
    ttl_s: float

    @property
    def ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))


@dataclass(frozen=True)
class Refusal:
    """The meter that did not fit, and what was left on it."""

    meter: Meter
    remaining: int


@dataclass
class Reservation:
    """A hold on a list of meters; ``recorded`` is False when made fail-open without the store."""

    id: str
    meters: list[Meter]
    recorded: bool = True
    refused: Refusal | None = None


@dataclass(frozen=True)
class MeterState:
    spent: int = 0
    held: int = 0


class Settled(Enum):
    """What a settle did: charged a reservation, found it already settled, or charged one the store lost."""

    SETTLED = 1
    DUPLICATE = 0
    RECOVERED = 2


class Store(Protocol):
    """Atomic reserve-and-settle over meters; every method may raise :class:`StoreUnavailable`."""

    async def reserve(self, rid: str, meters: list[Meter], ttl_s: float) -> Reservation:
        """Hold every meter's amount, or none (``refused`` says which did not fit); idempotent per ``rid``,
        and a no-op once ``rid`` was settled (a release queued by a caller that gave up may arrive first)."""
        ...

    async def settle(self, reservation: Reservation, actual: list[int], probe: bool = False) -> Settled:
        """Release the hold and charge ``actual`` (one amount per meter); at most once per reservation id.

        ``probe`` tries the store even while a recent failure says it is down (retries of queued settlements).
        """
        ...

    async def read(self, keys: list[str]) -> list[MeterState]: ...

    async def reconcile(self, charge: bool) -> int:
        """Settle expired reservations at their reserved amounts (``charge``) or at zero; returns how many."""
        ...

    async def aclose(self) -> None: ...
