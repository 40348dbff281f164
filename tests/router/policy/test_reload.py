"""Hot reload: SIGHUP, the classifier and telemetry sections, and replaced backends closed only once idle."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from router.api import create_app
from router.backends.base import ChatMessage, GenerationRequest, GenerationResult
from router.backends.scripted import ScriptedBackend
from router.difficulty import DifficultyService
from router.errors import ServiceUnavailable
from router.runtime import InFlightBackend

POLICY: dict[str, Any] = {
    "backends": {"local": {"type": "local", "price": {"input_per_mtok": 1, "output_per_mtok": 2}}},
    "strategies": {"single": {"type": "single_pass", "backend": "local", "max_tokens": 64}},
    "routes": {"auto": {"strategies": ["single"]}},
    "classifier": {"enabled": False},
}
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}


class GatedBackend(ScriptedBackend):
    """Answers ``4`` once ``gate`` opens; records ``aclose``."""

    def __init__(self, name: str, gate: asyncio.Event) -> None:
        super().__init__(["4"], name=name)
        self.gate = gate
        self.closed = False

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.calls.append(request)
        await self.gate.wait()
        completions = [self._completion(request) for _ in range(request.n)]
        return GenerationResult(completions, self._usage(request, completions), self.name)

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Served:
    app: FastAPI
    client: httpx.AsyncClient
    path: Path
    backends: list[GatedBackend]
    gate: asyncio.Event

    async def reload(self, policy: dict[str, Any]) -> bool:
        self.path.write_text(yaml.safe_dump(policy))
        return bool(await self.app.state.reloader.reload("test"))


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    gate = asyncio.Event()
    gate.set()
    made: list[GatedBackend] = []

    def factory(name: str, config: object) -> GatedBackend:
        made.append(GatedBackend(name, gate))
        return made[-1]

    # the file is never polled during a test: reloads come from reload() or SIGHUP
    app = create_app(path, backend_factories={"local": factory}, reload_interval_s=3600)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield Served(app, c, path, made, gate)


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _with(**sections: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy.update(sections)
    return policy


async def test_sighup_reloads_the_policy_file(served: Served) -> None:
    handler = signal.getsignal(signal.SIGHUP)
    assert handler not in (signal.SIG_DFL, signal.SIG_IGN, None), "no SIGHUP handler: the signal would kill pytest"
    served.path.write_text(yaml.safe_dump(_with(routes={**POLICY["routes"], "fast": {"strategies": ["single"]}})))
    os.kill(os.getpid(), signal.SIGHUP)
    await _until(lambda: served.app.state.runtime.version == 2)
    models = (await served.client.get("/v1/models")).json()["data"]
    assert "fast" in [m["id"] for m in models]


async def test_a_changed_telemetry_section_warns_that_it_needs_a_restart(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thinkroute")
    assert await served.reload(_with(limits={"max_n": 4}))
    assert not [r for r in caplog.records if "telemetry" in r.getMessage()]
    assert await served.reload(_with(telemetry={"traces": True, "sample_ratio": 0.5}))
    (warning,) = [r for r in caplog.records if "telemetry" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "restart" in warning.getMessage()
    assert served.app.state.runtime.version == 3  # the rest of the policy still applies


@dataclass
class _Score:
    difficulty: float
    bucket: str
    probabilities: dict[str, float]


class _FixedScorer:
    def score_batch(self, texts: Sequence[str]) -> list[_Score]:
        return [_Score(0.9, "hard", {"easy": 0.0, "medium": 0.1, "hard": 0.9}) for _ in texts]


async def test_a_changed_classifier_section_is_rebuilt_on_reload(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[tuple[bool, str | None]] = []

    def load(enabled: bool, model_path: str | None = None) -> DifficultyService:
        loads.append((enabled, model_path))
        return DifficultyService(_FixedScorer() if enabled else None)

    monkeypatch.setattr(DifficultyService, "load", staticmethod(load))
    before = served.app.state.chat_service.difficulty
    explained = await served.client.post("/v1/route/explain", json=CHAT)
    assert float(explained.headers["x-thinkroute-difficulty"]) == pytest.approx(0.5)  # disabled: neutral
    assert await served.reload(_with(limits={"max_n": 4}))
    assert loads == [] and served.app.state.chat_service.difficulty is before  # unchanged: not reloaded
    assert await served.reload(_with(classifier={"enabled": True, "model_path": "/models/clf.onnx"}))
    assert loads == [(True, "/models/clf.onnx")]
    explained = await served.client.post("/v1/route/explain", json=CHAT)
    assert float(explained.headers["x-thinkroute-difficulty"]) == pytest.approx(0.9)
    assert explained.json()["bucket"] == "hard"

    def broken(enabled: bool, model_path: str | None = None) -> DifficultyService:
        raise ServiceUnavailable("difficulty classifier failed to load: no such file")

    monkeypatch.setattr(DifficultyService, "load", staticmethod(broken))
    assert not await served.reload(_with(classifier={"enabled": True, "model_path": "/missing.onnx"}))
    assert served.app.state.runtime.version == 3  # rejected whole: the previous policy and classifier serve on
    explained = await served.client.post("/v1/route/explain", json=CHAT)
    assert float(explained.headers["x-thinkroute-difficulty"]) == pytest.approx(0.9)


async def test_a_replaced_backend_closes_only_after_its_call_in_flight_finishes(served: Served) -> None:
    served.app.state.pool.retire_quiet_s = 0.05
    (old,) = served.backends
    served.gate.clear()
    pending = asyncio.create_task(served.client.post("/v1/chat/completions", json=CHAT))
    await _until(lambda: len(old.calls) == 1)  # the call is in flight on the old backend
    priced = _with(backends={"local": {"type": "local", "price": {"input_per_mtok": 3, "output_per_mtok": 6}}})
    assert await served.reload(priced)
    new = served.backends[-1]
    assert new is not old and served.app.state.runtime.backends["local"].inner is new
    await asyncio.sleep(0.3)
    assert not old.closed and not pending.done()  # still serving the request that started on it
    served.gate.set()
    response = await pending
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "4"
    await _until(lambda: old.closed)
    assert not new.closed
    assert (await served.client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert len(new.calls) == 1 and len(old.calls) == 1  # new requests go to the new backend


async def test_a_replaced_backend_is_closed_at_the_cap_even_if_a_call_hangs(served: Served) -> None:
    served.app.state.pool.retire_quiet_s = 0.0
    (old,) = served.backends
    served.gate.clear()
    pending = asyncio.create_task(served.client.post("/v1/chat/completions", json=CHAT))
    await _until(lambda: len(old.calls) == 1)
    served.app.state.pool._request_timeout_s = 0.2  # the cap: the longest a request of the old policy may run
    dropped = _with(
        backends={"other": {"type": "local"}},
        strategies={"single": {"type": "single_pass", "backend": "other", "max_tokens": 64}},
        limits={"request_timeout_s": 0.2},
    )
    assert await served.reload(dropped)
    await _until(lambda: old.closed, timeout_s=3.0)
    served.gate.set()
    await pending


async def test_in_flight_counts_streams_and_waits_for_a_quiet_gap_between_calls() -> None:
    backend = InFlightBackend(ScriptedBackend(["a b c"], name="s"))
    request = GenerationRequest((ChatMessage("user", "hi"),), max_tokens=8)
    stream = backend.stream(request)
    assert (await anext(stream)).text == "a" and backend.in_flight == 1
    waiter = asyncio.create_task(backend.drained(10.0, quiet_s=0.3))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    assert [c.text async for c in stream][:2] == [" b", " c"] and backend.in_flight == 0
    await asyncio.sleep(0.05)
    await backend.generate(request)  # the next call of the same request, inside the quiet window
    assert not waiter.done()
    assert await waiter is True and backend.started == 2
    assert backend.name == "s" and backend.calls == backend.inner.calls  # attributes fall through
