"""A small string map shared by replicas (a Redis hash) or local to this process (a dict).

Keys, key ids, revocations and run-time limit overrides live in such maps.
"""

from __future__ import annotations

from typing import Any, Protocol

from router.budgets.redis_link import RedisLink

__all__ = ["LocalMap", "RedisMap", "SharedMap"]


class SharedMap(Protocol):
    async def get(self, field: str) -> str | None: ...
    async def set(self, field: str, value: str) -> None: ...
    async def delete(self, field: str) -> None: ...
    async def items(self) -> dict[str, str]: ...


class LocalMap:
    """A dict behind the async map interface."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    async def get(self, field: str) -> str | None:
        return self._data.get(field)

    async def set(self, field: str, value: str) -> None:
        self._data[field] = value

    async def delete(self, field: str) -> None:
        self._data.pop(field, None)

    async def items(self) -> dict[str, str]:
        return dict(self._data)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisMap:
    """One Redis hash; outages raise ``StoreUnavailable``."""

    def __init__(self, link: RedisLink, name: str) -> None:
        self._link = link
        self._name = name

    async def get(self, field: str) -> str | None:
        raw = await self._link.run(lambda c: c.hget(self._name, field))
        return None if raw is None else _text(raw)

    async def set(self, field: str, value: str) -> None:
        await self._link.run(lambda c: c.hset(self._name, field, value))

    async def delete(self, field: str) -> None:
        await self._link.run(lambda c: c.hdel(self._name, field))

    async def items(self) -> dict[str, str]:
        raw = await self._link.run(lambda c: c.hgetall(self._name), probe=True)
        return {_text(k): _text(v) for k, v in raw.items()}
