"""Router liveness and readiness while the local backend loads: /healthz at once, /readyz 503 until loaded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from local_backend.engine import LocalEngine
from tests.local_backend.tiny import build_tiny_engine, one_thread
from tests.support import UvicornThread

REPO = Path(__file__).resolve().parents[3]


def _wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def loading_router(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, threading.Event]]:
    """A router on ``policies/default.yaml`` whose model load blocks until the test releases it."""
    from router.api import create_app

    release = threading.Event()
    engine = build_tiny_engine()

    def slow_load(*_args: object, **_kwargs: object) -> LocalEngine:
        release.wait(60)
        return engine

    monkeypatch.setattr(LocalEngine, "load", staticmethod(slow_load))
    app = create_app(REPO / "policies" / "default.yaml", wait_for_backends=False)
    with one_thread(), UvicornThread(app) as server:
        try:
            yield server.base_url, release
        finally:
            release.set()


def test_readyz_is_503_until_the_model_has_loaded(loading_router: tuple[str, threading.Event]) -> None:
    base_url, release = loading_router
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    loading = httpx.get(f"{base_url}/readyz")
    assert loading.status_code == 503
    assert loading.json() == {"status": "loading", "backends": ["local"]}
    assert loading.headers["x-request-id"]

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="anything", max_retries=0)
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    assert refused.value.status_code == 503
    assert refused.value.response.headers.get("retry-after")
    assert refused.value.body is not None and "loading" in str(refused.value.body)

    release.set()
    assert _wait_for(lambda: httpx.get(f"{base_url}/readyz").status_code == 200)
    assert httpx.get(f"{base_url}/readyz").json()["status"] == "ready"
    reply = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], max_tokens=2, temperature=0
    )
    assert reply.usage is not None and reply.usage.completion_tokens >= 1
