"""A non-streaming answer cut short by the deadline says so in ``x-thinkroute-anytime``."""

from __future__ import annotations

import asyncio

import httpx

from router.api import create_app
from router.backends.base import GenerationRequest, GenerationResult
from router.backends.scripted import ScriptedBackend
from router.policy import parse_policy

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is 6 times 7?"}], "max_tokens": 4}


VOTE = {"type": "best_of_n", "backend": "local", "max_tokens": 8, "n_values": [8], "wave_size": 4, "stopping": []}


def _policy(timeout_s: float) -> dict[str, object]:
    return {
        "backends": {"local": {"type": "local"}},
        "strategies": {"vote": VOTE},
        "routes": {"auto": {"strategies": ["vote"]}},
        "classifier": {"enabled": False},
        "limits": {"request_timeout_s": timeout_s},
    }


class _SecondWaveHangs(ScriptedBackend):
    def __init__(self, hang: bool) -> None:
        super().__init__(["#### 42"])
        self.hang = hang

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        if self.hang and self.calls:
            await asyncio.sleep(30)  # cut by the request deadline
        return await super().generate(request)


async def _post(hang: bool, timeout_s: float) -> httpx.Response:
    backend = _SecondWaveHangs(hang)
    app = create_app(parse_policy(_policy(timeout_s)), backend_factories={"local": lambda n, c: backend})
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.post("/v1/chat/completions", json=CHAT)


async def test_a_deadline_cut_answer_is_marked_anytime() -> None:
    cut_short = await _post(hang=True, timeout_s=1.0)
    assert cut_short.status_code == 200, cut_short.text
    assert cut_short.headers["x-thinkroute-stop-reason"] == "deadline"
    assert cut_short.headers["x-thinkroute-anytime"] == "true"
    assert cut_short.headers["x-thinkroute-samples"] == "4"
    assert cut_short.json()["choices"][0]["message"]["content"] == "#### 42"


async def test_a_finished_answer_has_no_anytime_header() -> None:
    response = await _post(hang=False, timeout_s=30.0)
    assert response.status_code == 200, response.text
    assert response.headers["x-thinkroute-stop-reason"] == "n_max"
    assert "x-thinkroute-anytime" not in response.headers
