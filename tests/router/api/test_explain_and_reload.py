"""Decisions are explained over HTTP and carried in headers; the policy reloads without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from router.api import create_app
from router.backends.scripted import ScriptedBackend

POLICY = {
    "backends": {"local": {"type": "local", "price": {"input_per_mtok": 1, "output_per_mtok": 2}}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 64},
        "think": {"type": "bounded_reasoning", "backend": "local", "max_tokens": 64, "thinking_budgets": [128]},
    },
    "routes": {"auto": {"strategies": ["single", "think"], "slo": {"min_quality": 0.5}}},
    "classifier": {"enabled": False},
}
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}


def _factories() -> dict[str, object]:
    return {"local": lambda name, config: ScriptedBackend(["Thinking it over.\n#### 4"], name=name)}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    app = create_app(path, backend_factories=_factories(), reload_interval_s=0.05)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c, path


async def test_explain_returns_the_decision_without_running_it(served: tuple[httpx.AsyncClient, Path]) -> None:
    client, _ = served
    response = await client.post("/v1/route/explain", json=CHAT, headers={"x-thinkroute-min-quality": "0.6"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"difficulty", "candidates", "chosen", "rule"}
    assert body["chosen"]["strategy"] == "think" and body["rule"] == "cheapest_meeting_quality"
    assert body["slo"]["min_quality"] == 0.6
    assert len(body["candidates"]) == 2


async def test_unsatisfiable_slo_is_422_and_explained(served: tuple[httpx.AsyncClient, Path]) -> None:
    client, _ = served
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"x-thinkroute-latency-ms": "0.001"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "slo_unsatisfiable" and "closest" in error["message"]
    explained = await client.post("/v1/route/explain", json=CHAT, headers={"x-thinkroute-latency-ms": "0.001"})
    assert explained.status_code == 200 and explained.json()["chosen"] is None


async def test_completions_carry_decision_headers(served: tuple[httpx.AsyncClient, Path]) -> None:
    client, _ = served
    response = await client.post("/v1/chat/completions", json={**CHAT, "thinkroute": {"strategy": "think"}})
    assert response.status_code == 200
    assert response.headers["x-thinkroute-strategy"] == "think"
    assert float(response.headers["x-thinkroute-difficulty"]) == pytest.approx(0.5)
    message = response.json()["choices"][0]["message"]
    assert message["content"] == "4" and message["reasoning_content"] == "Thinking it over."


async def test_forcing_a_strategy_the_route_lacks_is_400(served: tuple[httpx.AsyncClient, Path]) -> None:
    client, _ = served
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"x-thinkroute-strategy": "search"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "x-thinkroute-strategy"
    response = await client.post("/v1/chat/completions", json={**CHAT, "thinkroute": {"min_quality": 3}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "thinkroute.min_quality"


async def _wait_for(predicate, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_changed_file_reloads_and_invalid_file_keeps_the_old_policy(
    served: tuple[httpx.AsyncClient, Path],
) -> None:
    client, path = served
    updated = {**POLICY, "routes": {**POLICY["routes"], "fast": {"strategies": ["single"]}}}  # type: ignore[dict-item]
    path.write_text(yaml.safe_dump(updated))

    async def has_fast() -> bool:
        models = (await client.get("/v1/models")).json()["data"]
        return "fast" in [m["id"] for m in models]

    await _wait_for(has_fast)
    path.write_text("routes: {fast: {strategies: [nope]}}\n")
    await asyncio.sleep(0.3)
    assert await has_fast(), "an invalid file must not replace the serving policy"
    response = await client.post("/v1/chat/completions", json={**CHAT, "model": "fast"})
    assert response.status_code == 200
