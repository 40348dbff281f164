"""A streamed request settles its reservation however the stream ends: a client that disconnects before the
stream starts or in its middle (ASGI 2.3: ``http.disconnect``; 2.4: ``send`` raises) is charged exactly what
was spent, nothing stays reserved, the strategy stops at once, and telemetry counts the same spend."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import ClientDisconnect

from router.api import create_app
from router.backends.base import GenerationRequest, GenerationResult
from router.backends.scripted import ScriptedBackend
from router.policy import parse_policy
from router.strategies import streaming

ADMIN = "admin-STREAM-key-0123456789"
PRICE = 0.01  # per (whitespace) token
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is two plus two?"}], "max_tokens": 4,
        "stream": True}  # fmt: skip
FIRST_WAVE = PRICE * (5 + 4 * 2)  # the prompt's 5 words once + 4 samples of "#### 4"
POLICY = {
    "backends": {"local": {"type": "local", "price": {"input_per_mtok": 10000, "output_per_mtok": 10000}}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 8},
        "vote": {"type": "best_of_n", "backend": "local", "max_tokens": 8, "n_values": [8], "wave_size": 4,
                 "stopping": []},
    },
    "routes": {"auto": {"strategies": ["single", "vote"]}},
    "classifier": {"enabled": False},
    "budgets": {"allow_anonymous": False, "key_prefix": "stream"},
    "tenants": {"acme": {"limits": [{"kind": "usd", "window": "day", "limit": 5.0}]}},
}  # fmt: skip


class _HangsOnSecondWave(ScriptedBackend):
    """Answers the first call; every later call waits until cancelled (an upstream that never replies)."""

    def __init__(self) -> None:
        super().__init__(["#### 4"], price_per_token=PRICE)
        self.second_call = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        if self.calls:
            self.calls.append(request)
            self.second_call.set()
            try:
                await asyncio.Event().wait()
            finally:
                self.cancelled.set()
        return await super().generate(request)


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, Any]]:
    monkeypatch.setenv("THINKROUTE_ADMIN_KEY", ADMIN)
    monkeypatch.delenv("THINKROUTE_REDIS_URL", raising=False)
    monkeypatch.setattr(streaming, "HEARTBEAT_S", 0.02)  # progress comments flow while the strategy works
    backend = _HangsOnSecondWave()
    app = create_app(parse_policy(POLICY), backend_factories={"local": lambda n, c: backend})
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield app, c, backend


async def _key(client: httpx.AsyncClient) -> str:
    response = await client.post("/admin/tenants/acme/keys", headers={"authorization": f"Bearer {ADMIN}"})
    return str(response.json()["key"])


async def _spend(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/admin/tenants/acme/spend", headers={"authorization": f"Bearer {ADMIN}"})
    window: dict[str, Any] = response.json()["windows"][0]
    return window


def _scope(key: str, body: bytes, spec_version: str) -> dict[str, Any]:
    """The ASGI scope of a chat completion for the ``vote`` strategy, as a server would build it."""
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": spec_version}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("t", 80), "state": {},
        "headers": [(b"host", b"t"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {key}".encode()),
                    (b"x-thinkroute-strategy", b"vote"), (b"content-length", str(len(body)).encode())],
    }  # fmt: skip


async def _stream_then_leave(app: FastAPI, key: str, leave: asyncio.Event, spec_version: str) -> list[bytes]:
    """Call the app as an ASGI server would; the client goes away once ``leave`` is set.

    2.3: ``receive`` answers ``http.disconnect``; 2.4: ``send`` raises OSError (as uvicorn does)."""
    body = json.dumps(CHAT).encode()
    scope = _scope(key, body, spec_version)
    chunks: list[bytes] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await leave.wait() if spec_version == "2.3" else asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if spec_version == "2.4" and leave.is_set():
            raise OSError("client went away")
        if message["type"] == "http.response.body" and message.get("body"):
            chunks.append(message["body"])

    with contextlib.suppress(ClientDisconnect):  # Starlette turns a failed send into ClientDisconnect
        await asyncio.wait_for(app(scope, receive, send), 10)
    return chunks


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
async def test_a_client_that_leaves_mid_stream_is_charged_what_was_spent(
    served: tuple[FastAPI, httpx.AsyncClient, _HangsOnSecondWave], spec_version: str
) -> None:
    app, client, backend = served
    key = await _key(client)
    chunks = await _stream_then_leave(app, key, backend.second_call, spec_version)
    assert chunks and chunks[0].startswith(b"data: ")  # the stream had started: the role chunk went out
    assert b"[DONE]" not in b"".join(chunks)
    assert backend.cancelled.is_set()  # the strategy was stopped with the response, not left running
    spend = await _spend(client)
    assert spend["reserved"] == 0 and spend["spent"] == pytest.approx(FIRST_WAVE)
    metrics = {s.name: s for f in text_string_to_metric_families((await client.get("/metrics")).text)
               for s in f.samples if s.labels.get("tenant") == "acme"}  # fmt: skip
    assert metrics["thinkroute_cost_usd_total"].value == pytest.approx(FIRST_WAVE)


async def test_a_stream_never_iterated_is_released(
    served: tuple[FastAPI, httpx.AsyncClient, _HangsOnSecondWave],
) -> None:
    app, client, backend = served
    key = await _key(client)
    gone = asyncio.Event()
    gone.set()  # the response's very first send fails: the body generator never starts
    assert await _stream_then_leave(app, key, gone, "2.4") == []
    assert backend.calls == []
    spend = await _spend(client)
    assert spend["reserved"] == 0 and spend["spent"] == 0


async def test_a_client_that_disconnects_at_once_leaves_nothing_reserved(
    served: tuple[FastAPI, httpx.AsyncClient, _HangsOnSecondWave],
) -> None:
    app, client, _ = served
    key = await _key(client)
    gone = asyncio.Event()
    gone.set()  # http.disconnect is the next message: the stream is cancelled as it starts
    await _stream_then_leave(app, key, gone, "2.3")
    spend = await _spend(client)
    assert spend["reserved"] == 0 and spend["spent"] in (0, pytest.approx(FIRST_WAVE))  # whatever ran is charged


async def test_a_finished_stream_is_charged_once(
    served: tuple[FastAPI, httpx.AsyncClient, _HangsOnSecondWave],
) -> None:
    _, client, _ = served
    key = await _key(client)
    headers = {"authorization": f"Bearer {key}", "x-thinkroute-strategy": "single"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
    spend = await _spend(client)
    single = PRICE * (5 + 2)  # single_pass: the prompt + "#### 4"
    assert spend["reserved"] == 0 and spend["spent"] == pytest.approx(single)


async def test_a_non_streaming_client_that_leaves_cancels_its_samples_and_pays_what_they_spent(
    served: tuple[FastAPI, httpx.AsyncClient, _HangsOnSecondWave],
) -> None:
    app, client, backend = served
    key = await _key(client)
    body = json.dumps({**CHAT, "stream": False}).encode()
    scope = _scope(key, body, "2.3")
    delivered = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await backend.second_call.wait()  # the client leaves while the second wave is in flight
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await asyncio.wait_for(app(scope, receive, send), 10)
    assert backend.cancelled.is_set()  # the hanging sample was cancelled, not left running
    assert statuses == [499]
    spend = await _spend(client)
    assert spend["reserved"] == 0 and spend["spent"] == pytest.approx(FIRST_WAVE)
