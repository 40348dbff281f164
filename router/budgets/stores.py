"""Budget stores, in process or in Redis, with the same semantics (see :mod:`router.budgets.meters`)."""

from router.budgets.memory import MemoryStore
from router.budgets.meters import Meter, MeterState, Refusal, Reservation, Settled, Store, StoreUnavailable
from router.budgets.redis_link import RedisLink
from router.budgets.redis_store import RedisStore

__all__ = [
    "MemoryStore",
    "Meter",
    "MeterState",
    "RedisLink",
    "RedisStore",
    "Refusal",
    "Reservation",
    "Settled",
    "Store",
    "StoreUnavailable",
]
