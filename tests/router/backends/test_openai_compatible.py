"""The lean OpenAI-compatible backend over real HTTP against the fault-injecting upstream."""

from __future__ import annotations

import time
from typing import Any

import pytest

from router.backends.base import ChatMessage, GenerationRequest, StreamChunk, ThinkingBudget
from router.backends.openai_compatible import OpenAICompatibleBackend, env_proxy
from router.errors import (
    BackendError,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.policy.schema import OpenAICompatibleBackendConfig
from tests.router.backends.fault_upstream import Fault, FaultyUpstream
from tests.support import free_port

QUESTION = (ChatMessage("system", "Be brief."), ChatMessage("user", "What is six times seven?"))


def backend(url: str, **overrides: Any) -> OpenAICompatibleBackend:
    settings: dict[str, Any] = {
        "type": "openai_compatible", "api_base": url, "model": "fake-model", "retry_backoff_s": 0.01,
        "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}, **overrides,
    }  # fmt: skip
    return OpenAICompatibleBackend("lean", OpenAICompatibleBackendConfig(**settings))


def request(**changes: Any) -> GenerationRequest:
    return GenerationRequest(QUESTION, max_tokens=32).with_(**changes)


async def test_completion_usage_and_cost(upstream: FaultyUpstream, upstream_url: str) -> None:
    lean = backend(upstream_url)
    result = await lean.generate(request(seed=7, stop=("\n",), temperature=0.5))
    assert [c.text for c in result.completions] == [upstream.reply]
    sent = upstream.requests[-1]
    assert sent["model"] == "fake-model" and sent["seed"] == 7 and sent["stop"] == ["\n"]
    assert sent["messages"][1] == {"role": "user", "content": "What is six times seven?"}
    expected = upstream.completion(sent)["usage"]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (
        expected["prompt_tokens"], expected["completion_tokens"])  # fmt: skip
    cost = (expected["prompt_tokens"] * 1 + expected["completion_tokens"] * 2) / 1e6
    assert result.usage.cost_usd == pytest.approx(cost)
    await lean.aclose()


async def test_n_is_native_or_parallel(upstream: FaultyUpstream, upstream_url: str) -> None:
    native = backend(upstream_url)
    result = await native.generate(request(n=3, seed=1))
    assert len(result.completions) == 3 and len(upstream.requests) == 1 and upstream.requests[0]["n"] == 3
    upstream.reset()
    parallel = backend(upstream_url, native_n=False)
    result = await parallel.generate(request(n=3, seed=1))
    assert len(result.completions) == 3 and result.usage.calls == 3
    assert sorted(body["seed"] for body in upstream.requests) == [1, 2, 3]
    assert all("n" not in body for body in upstream.requests)
    await native.aclose()
    await parallel.aclose()


async def test_reasoning_knob_and_reasoning_tokens(upstream: FaultyUpstream, upstream_url: str) -> None:
    lean = backend(upstream_url, reasoning="thinking_budget")
    assert lean.capabilities.thinking_knob
    result = await lean.generate(request(thinking=ThinkingBudget(max_tokens=64, min_tokens=8)))
    sent = upstream.requests[-1]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 64} and sent["max_tokens"] == 32 + 64
    assert result.completions[0].reasoning == upstream.reasoning
    assert result.usage.reasoning_tokens == len(upstream.reasoning.split()) > 0
    effort = backend(upstream_url, reasoning="reasoning_effort")
    await effort.generate(request(thinking=ThinkingBudget(max_tokens=64, effort="low")))
    assert upstream.requests[-1]["reasoning_effort"] == "low"
    prompted = backend(upstream_url)  # auto on a self-hosted server: no knob, bounded reasoning prompts
    assert not prompted.capabilities.thinking_knob
    await prompted.generate(request(thinking=ThinkingBudget(max_tokens=64)))
    assert "thinking" not in upstream.requests[-1] and "reasoning_effort" not in upstream.requests[-1]
    for b in (lean, effort, prompted):
        await b.aclose()


async def test_streaming_passes_text_through_and_ends_with_usage(upstream: FaultyUpstream, upstream_url: str) -> None:
    lean = backend(upstream_url)
    chunks: list[StreamChunk] = [c async for c in lean.stream(request())]
    assert "".join(c.text for c in chunks).split() == upstream.reply.split()
    assert len([c for c in chunks if c.text]) == len(upstream.reply.split())  # passed through piece by piece
    last = chunks[-1]
    assert last.finish_reason == "stop" and last.usage is not None and last.usage.completion_tokens > 0
    assert upstream.requests[-1]["stream_options"] == {"include_usage": True}
    await lean.aclose()


async def test_429_is_retried_after_retry_after(upstream: FaultyUpstream, upstream_url: str) -> None:
    upstream.push(Fault("status", status=429, retry_after="1"))
    lean = backend(upstream_url)
    result = await lean.generate(request())
    assert result.completions[0].text == upstream.reply
    assert len(upstream.arrivals) == 2 and upstream.arrivals[1] - upstream.arrivals[0] >= 0.95
    await lean.aclose()


@pytest.mark.parametrize(
    "fault", [Fault("status", status=500), Fault("status", status=503), Fault("malformed"), Fault("reset")]
)
async def test_transient_failures_are_retried(upstream: FaultyUpstream, upstream_url: str, fault: Fault) -> None:
    upstream.push(fault, fault)
    lean = backend(upstream_url, max_retries=2)
    result = await lean.generate(request())
    assert result.completions[0].text == upstream.reply and len(upstream.requests) == 3
    await lean.aclose()


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        (Fault("status", status=500), UpstreamUnavailable, 502),
        (Fault("status", status=429, retry_after="0"), UpstreamRateLimited, 429),
        (Fault("malformed"), UpstreamUnavailable, 502),
        (Fault("reset"), UpstreamUnavailable, 502),
    ],
)
async def test_persistent_failures_surface_with_the_right_status(
    upstream: FaultyUpstream, upstream_url: str, fault: Fault, error: type[BackendError], status: int
) -> None:
    upstream.push(*[fault] * 3)
    lean = backend(upstream_url, max_retries=2)
    with pytest.raises(error) as raised:
        await lean.generate(request())
    assert raised.value.status_code == status and len(upstream.requests) == 3
    await lean.aclose()


async def test_bad_request_is_not_retried(upstream: FaultyUpstream, upstream_url: str) -> None:
    upstream.push(Fault("status", status=400))
    lean = backend(upstream_url)
    with pytest.raises(UpstreamBadRequest, match="scripted 400"):
        await lean.generate(request())
    assert len(upstream.requests) == 1
    await lean.aclose()


async def test_slow_upstream_times_out_at_the_deadline(upstream: FaultyUpstream, upstream_url: str) -> None:
    upstream.push(Fault("slow_first_byte", delay_s=3.0), Fault("slow_first_byte", delay_s=3.0))
    lean = backend(upstream_url, max_retries=3)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as raised:
        await lean.generate(request(deadline=started + 0.8))
    assert time.monotonic() - started < 1.5 and raised.value.status_code == 504
    await lean.aclose()


async def test_retry_that_cannot_finish_before_the_deadline_is_not_attempted(
    upstream: FaultyUpstream, upstream_url: str
) -> None:
    upstream.push(Fault("status", status=429, retry_after="5"))
    lean = backend(upstream_url)
    started = time.monotonic()
    with pytest.raises(UpstreamRateLimited) as raised:
        await lean.generate(request(deadline=started + 2.0))
    assert time.monotonic() - started < 1.0 and len(upstream.requests) == 1
    assert raised.value.retry_after == pytest.approx(5.0)
    await lean.aclose()


async def test_stream_reset_mid_way_raises_with_the_usage_spent(upstream: FaultyUpstream, upstream_url: str) -> None:
    upstream.push(Fault("reset", after_chunks=2))
    lean = backend(upstream_url)
    received: list[str] = []
    with pytest.raises(UpstreamUnavailable, match="broke the stream") as raised:
        async for chunk in lean.stream(request()):
            received.append(chunk.text)
    assert len(received) == 2
    spent = raised.value.usage  # type: ignore[attr-defined]
    assert spent.completion_tokens == 2 and spent.prompt_tokens > 0 and spent.cost_usd > 0
    await lean.aclose()


async def test_stream_past_the_deadline_ends_with_finish_reason_deadline(
    upstream: FaultyUpstream, upstream_url: str
) -> None:
    upstream.chunk_delay_s = 0.4
    lean = backend(upstream_url)
    started = time.monotonic()
    chunks = [c async for c in lean.stream(request(deadline=started + 1.0))]
    assert time.monotonic() - started < 1.6
    assert chunks[-1].finish_reason == "deadline" and 0 < len([c for c in chunks if c.text]) < 5
    await lean.aclose()


async def test_repeated_failures_start_a_cooldown(upstream: FaultyUpstream, upstream_url: str) -> None:
    upstream.push(*[Fault("status", status=500)] * 2)
    lean = backend(upstream_url, max_retries=0, cooldown_after=2, cooldown_s=30)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await lean.generate(request())
    with pytest.raises(UpstreamUnavailable, match="cooling down") as raised:
        await lean.generate(request())
    assert len(upstream.requests) == 2 and raised.value.retry_after is not None
    await lean.aclose()


async def test_api_key_comes_from_the_named_environment_variable(
    upstream: FaultyUpstream, upstream_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean = backend(upstream_url, api_key_env="THINKROUTE_TEST_UPSTREAM_KEY")
    monkeypatch.delenv("THINKROUTE_TEST_UPSTREAM_KEY", raising=False)
    with pytest.raises(BackendError, match="THINKROUTE_TEST_UPSTREAM_KEY is not set"):
        await lean.generate(request())
    monkeypatch.setenv("THINKROUTE_TEST_UPSTREAM_KEY", "sk-test-123")
    await lean.generate(request())
    assert upstream.headers[-1]["authorization"] == "Bearer sk-test-123"
    await lean.aclose()


async def test_connection_refused_is_retried_then_surfaces_as_unavailable() -> None:
    lean = backend(f"http://127.0.0.1:{free_port()}/v1", max_retries=1)
    with pytest.raises(UpstreamUnavailable, match="unreachable") as raised:
        await lean.generate(request())
    assert raised.value.status_code == 502
    with pytest.raises(UpstreamUnavailable, match="unreachable"):
        [c async for c in lean.stream(request())]
    await lean.aclose()


async def test_stream_open_failures_are_retried_or_refused(upstream: FaultyUpstream, upstream_url: str) -> None:
    upstream.push(Fault("status", status=503), Fault("status", status=429, retry_after="0"))
    lean = backend(upstream_url, max_retries=2)
    chunks = [c async for c in lean.stream(request())]
    assert "".join(c.text for c in chunks).split() == upstream.reply.split() and len(upstream.requests) == 3
    upstream.push(Fault("status", status=400))
    with pytest.raises(UpstreamBadRequest, match="scripted 400"):
        [c async for c in lean.stream(request())]
    assert len(upstream.requests) == 4
    await lean.aclose()


async def test_stream_with_malformed_json_raises_with_the_usage_spent(
    upstream: FaultyUpstream, upstream_url: str
) -> None:
    upstream.push(Fault("malformed", after_chunks=1))
    lean = backend(upstream_url)
    with pytest.raises(UpstreamUnavailable, match="invalid JSON") as raised:
        [c async for c in lean.stream(request())]
    assert raised.value.usage.completion_tokens == 1  # type: ignore[attr-defined]
    await lean.aclose()


async def test_sse_lines_split_on_any_line_ending_across_reads() -> None:
    long = "x" * 300_000  # longer than aiohttp's readline limit

    class Content:
        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks = chunks

        async def readany(self) -> bytes:
            return self.chunks.pop(0) if self.chunks else b""

    reads = [
        b"data: a\r",
        b"\ndata: b\n\nda",
        b"ta: " + long[:1000].encode(),
        long[1000:].encode() + b"\r\n",
        b"data: end",
    ]
    response = type("Response", (), {"content": Content(reads)})()
    lines = [line async for line in OpenAICompatibleBackend._lines(response)]  # type: ignore[arg-type]
    assert [line for line in lines if line] == ["data: a", "data: b", f"data: {long}", "data: end"]


async def test_the_session_opens_lazily_and_closes_in_aclose(upstream: FaultyUpstream, upstream_url: str) -> None:
    lean = backend(upstream_url)
    await lean.generate(request())
    session = lean.session
    await lean.generate(request())
    assert lean.session is session  # pooled: one session per backend
    await lean.aclose()
    assert session.closed
    await lean.generate(request())  # reopens on demand
    assert lean.session is not session
    await lean.aclose()


def test_proxy_comes_from_the_environment_unless_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
                 "NO_PROXY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("http://gpu-1:8000/v1/chat/completions") is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert env_proxy("http://gpu-1:8000/v1/chat/completions") == "http://proxy:3128"
    assert env_proxy("https://api.example.com/v1") is None
    monkeypatch.setenv("NO_PROXY", "gpu-1,localhost")
    assert env_proxy("http://gpu-1:8000/v1/chat/completions") is None
