"""Bad input gets an OpenAI-shaped 4xx, a bug a 500 with the request id, and the server keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from router.api import create_app
from router.backends.scripted import ScriptedBackend
from router.policy import load_policy

POLICY = Path(__file__).resolve().parents[3] / "policies" / "default.yaml"
GOOD = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_policy(POLICY), backend_factories={"local": lambda n, c: ScriptedBackend(["hello there"])})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


ERROR_TYPES = {400: "invalid_request_error", 404: "invalid_request_error", 413: "invalid_request_error",
               500: "server_error"}  # fmt: skip


def _assert_openai_error(response: httpx.Response, status: int, code: str | None, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["type"] == ERROR_TYPES[status]
    if param is not None:
        assert error["param"] == param
    assert "Traceback" not in response.text


async def _still_serving(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=GOOD)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "hello there"


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", content=b'{"model": "auto", "messages": [', headers={"content-type": "application/json"}
    )
    _assert_openai_error(response, 400, "invalid_json")
    await _still_serving(client)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "auto"}, "messages"),
        ({"model": "auto", "messages": "hello"}, "messages"),
        ({"model": "auto", "messages": []}, "messages"),
        ({"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({**GOOD, "n": 0}, "n"),
        ({**GOOD, "max_tokens": -5}, "max_tokens"),
        ({**GOOD, "temperature": "hot"}, "temperature"),
        ({"messages": GOOD["messages"]}, "model"),
    ],
)
async def test_schema_violations_are_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], param: str
) -> None:
    response = await client.post("/v1/chat/completions", json=body)
    _assert_openai_error(response, 400, "invalid_value", param)
    assert param.split("[")[0].split(".")[0] in response.json()["error"]["message"]
    await _still_serving(client)


async def test_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json={**GOOD, "model": "gpt-17"})
    _assert_openai_error(response, 404, "model_not_found", "model")
    await _still_serving(client)


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    big = {**GOOD, "messages": [{"role": "user", "content": "a" * 1_100_000}]}
    response = await client.post("/v1/chat/completions", json=big)
    _assert_openai_error(response, 413, "request_too_large")
    await _still_serving(client)


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 50_000

    response = await client.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    _assert_openai_error(response, 413, "request_too_large")
    await _still_serving(client)


async def test_max_tokens_over_the_route_cap_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json={**GOOD, "max_tokens": 100_000})
    _assert_openai_error(response, 400, "invalid_request", "max_tokens")
    await _still_serving(client)


async def test_a_bug_is_500_with_request_id_and_no_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom", headers={"x-request-id": "req-bug-1"})
    _assert_openai_error(response, 500, "internal_error")
    assert "req-bug-1" in response.json()["error"]["message"]
    assert "secret internal detail" not in response.text
    assert response.headers["x-request-id"] == "req-bug-1"
    await _still_serving(client)


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    responses = [await client.get("/healthz"), await client.get("/nope"), await client.post("/v1/chat/completions")]
    for response in responses:
        assert response.headers["x-request-id"].startswith("req_")
