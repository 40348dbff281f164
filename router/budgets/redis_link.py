"""One Redis connection pool for budgets and keys, with errors converted at the boundary and a circuit breaker.

While Redis is down, calls fail at once (``StoreUnavailable``) instead of each waiting for a connect
timeout; after a short, growing pause one call probes again. Background work (retrying settlements,
reconciling) probes regardless of the breaker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from router.budgets.meters import StoreUnavailable

__all__ = ["RedisLink"]

T = TypeVar("T")


class RedisLink:
    """``redis.asyncio`` client + breaker; ``run(fn)`` calls ``fn(client)`` and converts outage errors."""

    def __init__(self, url: str, *, max_connections: int = 64, timeout_s: float = 2.0) -> None:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout_s,
            socket_timeout=timeout_s, socket_connect_timeout=min(1.0, timeout_s),
        )  # fmt: skip
        # One immediate retry covers a pooled connection broken by a Redis restart; every script is idempotent.
        self.client: Any = redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 1))
        self._down_until = 0.0
        self._pause_s = 0.0
        self.failures = 0

    @property
    def available(self) -> bool:
        """False while the breaker is open (the last call failed and the pause has not passed)."""
        return time.monotonic() >= self._down_until

    async def run(self, fn: Callable[[Any], Awaitable[T]], *, probe: bool = False) -> T:
        """``await fn(client)``; Redis outages (connection, timeout, loading, read-only) become StoreUnavailable."""
        from redis.exceptions import BusyLoadingError, ReadOnlyError
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        if not probe and not self.available:
            raise StoreUnavailable("redis unavailable (recent failure; retrying shortly)", sent=False)
        try:
            result = await fn(self.client)
        except (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ReadOnlyError, OSError) as exc:
            self.failures += 1
            self._pause_s = min(0.5, max(0.05, self._pause_s * 2))
            self._down_until = time.monotonic() + self._pause_s
            raise StoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc
        self._pause_s, self._down_until = 0.0, 0.0
        return result

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.client.connection_pool.disconnect()
