"""A fault-injecting OpenAI-compatible upstream on loopback, shared by the backend and API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.router.backends.fault_upstream import FaultyUpstream
from tests.support import UvicornThread


@pytest.fixture(scope="session")
def _upstream_server() -> Iterator[tuple[FaultyUpstream, str]]:
    upstream = FaultyUpstream()
    with UvicornThread(upstream.app()) as server:
        yield upstream, server.base_url


@pytest.fixture
def upstream(_upstream_server: tuple[FaultyUpstream, str]) -> Iterator[FaultyUpstream]:
    """The upstream with an empty script; reset again after the test."""
    fake, _ = _upstream_server
    fake.reset()
    yield fake
    fake.reset()
    fake.chunk_delay_s = 0.0


@pytest.fixture
def upstream_url(_upstream_server: tuple[FaultyUpstream, str]) -> str:
    """Base URL of the upstream's API, ``http://127.0.0.1:PORT/v1``."""
    return _upstream_server[1] + "/v1"
