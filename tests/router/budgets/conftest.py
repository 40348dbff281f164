"""Real Redis for budget tests: THINKROUTE_TEST_REDIS_URL (default db 15 on loopback).

Each test writes under its own key prefix and deletes exactly those keys afterwards, so tests never
touch anything else in the database. Without a reachable Redis the Redis cases skip, except under
``CI=true`` where they fail. Outage tests start a private ``redis-server`` on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from router.budgets import BudgetService
from router.budgets.memory import MemoryStore
from router.budgets.meters import Store
from router.budgets.redis_link import RedisLink
from router.budgets.redis_store import RedisStore
from router.policy import Policy, parse_policy

REDIS_URL = os.environ.get("THINKROUTE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BASE: dict[str, Any] = {
    "backends": {"local": {"type": "local"}},
    "strategies": {"single": {"type": "single_pass", "backend": "local"}},
    "routes": {"auto": {"strategies": ["single"]}},
    "classifier": {"enabled": False},
}


def make_policy(tenants: dict[str, Any], **budgets: Any) -> Policy:
    """A minimal real policy with these tenants and ``budgets`` settings."""
    return parse_policy({**BASE, "tenants": tenants, "budgets": budgets})


def _reachable(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def require_or_skip(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _reachable(REDIS_URL):
        require_or_skip(f"Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys in the test Redis are deleted afterwards."""
    name = "trtest-" + uuid.uuid4().hex[:10]
    yield name
    delete_prefix(REDIS_URL, name)


def delete_prefix(url: str, name: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        keys = list(client.scan_iter(match=f"{name}:*", count=500))
        if keys:
            client.delete(*keys)
        client.close()
    except (redis.RedisError, OSError):
        pass


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    """Which store a parametrised test runs against; ``redis`` needs a reachable server."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return str(request.param)


@pytest.fixture
async def store(backend: str, prefix: str) -> AsyncIterator[Store]:
    if backend == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore(RedisLink(REDIS_URL), prefix)
    yield redis_store
    await redis_store.aclose()


ServiceFactory = Callable[..., BudgetService]


@pytest.fixture
async def make_service(backend: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ServiceFactory]:
    """``make_service(tenants, **budgets)``: a BudgetService on this test's store (closed afterwards)."""
    monkeypatch.delenv("THINKROUTE_REDIS_URL", raising=False)
    made: list[BudgetService] = []

    def factory(tenants: dict[str, Any], url: str | None = None, **budgets: Any) -> BudgetService:
        settings: dict[str, Any] = {"key_prefix": prefix, **budgets}
        if backend == "redis" or url:
            settings |= {"store": "redis", "redis_url": url or REDIS_URL}
        service = BudgetService.create(make_policy(tenants, **settings))
        made.append(service)
        return service

    yield factory
    for service in made:
        await service.aclose(drain_s=0)


class PrivateRedis:
    """A redis-server of our own on a free port, which a test may kill and restart.

    ``persistent``: append-only file fsynced on every write, so data survives a kill (a restart that
    keeps state); otherwise a restart comes back empty (a restart that loses state).
    """

    def __init__(self, persistent: bool) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="thinkroute-redis-")
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.dir,
             *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _reachable(self.url):
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, like a crashed or evicted pod."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis_factory() -> Iterator[Callable[[bool], PrivateRedis]]:
    if shutil.which("redis-server") is None:
        require_or_skip("redis-server")
    servers: list[PrivateRedis] = []

    def factory(persistent: bool) -> PrivateRedis:
        server = PrivateRedis(persistent)
        server.start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.kill()
        shutil.rmtree(server.dir, ignore_errors=True)


class ReplyDelayProxy:
    """A TCP proxy in front of Redis that can hold back replies: a command runs on the server while its
    caller is still waiting, so the caller can give up after the server applied it (a lost reply)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.reply_delay_s = 0.0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/15"

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, delayed: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                if delayed and self.reply_delay_s:
                    await asyncio.sleep(self.reply_delay_s)
                dst.write(data)
                await dst.drain()
        dst.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self._pipe(reader, up_writer, False), self._pipe(up_reader, writer, True))

    async def aclose(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
