"""``_unless_disconnected``: the work runs in the handler's task; a disconnect cancels it and yields ``None``."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from fastapi import Request

from router.api.routes import _unless_disconnected


class _Client:
    """A request whose ``receive`` reports ``http.disconnect`` once ``gone`` is set."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}


def _request(client: _Client) -> Request:
    return cast(Request, client)


async def test_finished_work_returns_its_result_and_stops_the_watcher() -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        return 7

    assert await _unless_disconnected(_request(_Client()), work()) == 7
    await asyncio.sleep(0)
    watchers = [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "").endswith(".watch")]
    assert watchers == []


async def test_a_disconnect_cancels_the_work_and_leaves_the_task_uncancelled() -> None:
    client, cancelled = _Client(), asyncio.Event()

    async def work() -> int:
        client.gone.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1

    assert await _unless_disconnected(_request(client), work()) is None
    assert cancelled.is_set()
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # the handler goes on (sends its 499) without a pending cancellation


async def test_a_cancelled_handler_is_not_mistaken_for_a_disconnect() -> None:
    started = asyncio.Event()

    async def handler() -> int | None:
        async def work() -> int:
            started.set()
            await asyncio.sleep(10)
            return 1

        return await _unless_disconnected(_request(_Client()), work())

    task = asyncio.ensure_future(handler())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
