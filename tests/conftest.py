"""Session-wide fixtures: the real bundled model served by a real router on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import UvicornThread

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def real_engine() -> Any:
    """The bundled Gemma 3 270M as a ``LocalEngine``, loaded once for the session."""
    from local_backend.engine import LocalEngine

    return LocalEngine.load("bundled")


@pytest.fixture(scope="session")
def model_server() -> Iterator[str]:
    """Base URL of a router serving ``policies/default.yaml`` with the bundled model loaded."""
    from router.api import create_app

    app = create_app(REPO / "policies" / "default.yaml", wait_for_backends=True)
    with UvicornThread(app) as server:
        yield server.base_url
