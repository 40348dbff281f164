"""The official openai client (sync, async, streaming) against a real server and the real bundled model."""

from __future__ import annotations

import openai
import pytest

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_sync_completion_returns_a_real_answer_with_usage(model_server: str) -> None:
    client = openai.OpenAI(base_url=f"{model_server}/v1", api_key="anything")
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=QUESTION, max_tokens=12)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == "auto"
    text = completion.choices[0].message.content or ""
    assert text.strip(), "the bundled model must produce text"
    assert "Paris" in text
    assert completion.choices[0].finish_reason in ("stop", "length")
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 20 and 0 < usage.completion_tokens <= 12
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert raw.headers["x-thinkroute-strategy"] == "single"
    assert raw.headers["x-request-id"]


def test_client_request_id_is_echoed(model_server: str) -> None:
    client = openai.OpenAI(base_url=f"{model_server}/v1", api_key="anything")
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=QUESTION, max_tokens=4, extra_headers={"x-request-id": "trace-abc-123"}
    )
    assert raw.headers["x-request-id"] == "trace-abc-123"


async def test_async_client_serves_concurrent_requests(model_server: str) -> None:
    import asyncio

    client = openai.AsyncOpenAI(base_url=f"{model_server}/v1", api_key="anything")
    prompts = ["What is 2 + 2?", "Name a colour of the sky."]
    results = await asyncio.gather(
        *[
            client.chat.completions.create(model="auto", messages=[{"role": "user", "content": p}], max_tokens=8)
            for p in prompts
        ]
    )
    assert all((r.choices[0].message.content or "").strip() for r in results)
    await client.close()


def test_streaming_yields_deltas_that_join_to_the_answer(model_server: str) -> None:
    client = openai.OpenAI(base_url=f"{model_server}/v1", api_key="anything")
    stream = client.chat.completions.create(
        model="auto", messages=QUESTION, max_tokens=12, stream=True, stream_options={"include_usage": True}
    )
    deltas: list[str] = []
    finish = None
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            deltas.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    text = "".join(deltas)
    assert len([d for d in deltas if d]) >= 2, "tokens must arrive as several deltas"
    assert "Paris" in text
    assert finish in ("stop", "length")
    assert usage is not None and 0 < usage.completion_tokens <= 12


def test_streaming_matches_non_streaming_under_greedy_decoding(model_server: str) -> None:
    client = openai.OpenAI(base_url=f"{model_server}/v1", api_key="anything")
    messages = [{"role": "user", "content": "What is 3 + 4?"}]
    whole = client.chat.completions.create(model="auto", messages=messages, max_tokens=8, temperature=0)
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="auto", messages=messages, max_tokens=8, stream=True)
        if c.choices
    )
    assert streamed == whole.choices[0].message.content


def test_models_lists_the_policy_routes(model_server: str) -> None:
    client = openai.OpenAI(base_url=f"{model_server}/v1", api_key="anything")
    assert [m.id for m in client.models.list()] == ["auto"]


def test_unknown_model_is_404_and_server_keeps_serving(model_server: str) -> None:
    client = openai.OpenAI(base_url=f"{model_server}/v1", api_key="anything")
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-route", messages=QUESTION)
    assert info.value.body["code"] == "model_not_found"  # type: ignore[index]
    ok = client.chat.completions.create(model="auto", messages=QUESTION, max_tokens=2)
    assert ok.choices[0].message.content is not None
