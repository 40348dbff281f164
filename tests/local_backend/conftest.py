"""Engines for the local backend tests: a tiny random Gemma 3 (fast); the real model is in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_backend.engine import LocalEngine
from tests.local_backend.tiny import build_tiny_engine, one_thread


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tests run on one torch thread: on a CPU shared with other jobs, two spinning threads make small
    batches several times slower (measured: 8 tokens x 3 rows of the bundled model 9.8 s vs 1.5 s)."""
    with one_thread():
        yield


@pytest.fixture
def tiny_engine() -> LocalEngine:
    return build_tiny_engine()
