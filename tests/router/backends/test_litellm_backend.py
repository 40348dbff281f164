"""The LiteLLM backend over real HTTP (LiteLLM's OpenAI provider) against the fault-injecting upstream."""

from __future__ import annotations

import time
from typing import Any

import pytest

from router.backends.base import GenerationRequest, ThinkingBudget
from router.backends.litellm_backend import price_from_cost_map
from router.backends.provider_traits import traits_for
from router.errors import UpstreamBadRequest, UpstreamRateLimited, UpstreamTimeout, UpstreamUnavailable
from tests.router.backends.fault_upstream import Fault, FaultyUpstream
from tests.router.backends.litellm_support import QUESTION, backend


def request(**changes: Any) -> GenerationRequest:
    return GenerationRequest(QUESTION, max_tokens=32).with_(**changes)


@pytest.mark.parametrize(
    ("model", "native_n", "knob"),
    [
        ("openai/gpt-4o-mini", True, "none"),
        ("openai/o3-mini", True, "reasoning_effort"),
        ("anthropic/claude-sonnet-4-20250514", False, "thinking_budget"),
        ("gemini/gemini-2.5-flash", False, "reasoning_effort"),
        ("hosted_vllm/my-model", True, "none"),
        ("some-new-provider/model", False, "none"),
    ],
)
def test_capability_table(model: str, native_n: bool, knob: str) -> None:
    traits = traits_for(model)
    assert (traits.native_n, traits.knob) == (native_n, knob)
    assert traits_for(model, "none").knob == "none"


def test_prices_come_from_the_cost_map_unless_the_policy_overrides_them() -> None:
    price = price_from_cost_map("openai/gpt-4o-mini")
    assert price is not None and price.input_per_mtok == pytest.approx(0.15) and price.output_per_mtok > 0
    assert price_from_cost_map("hosted_vllm/unknown-model") is None
    override = backend("http://127.0.0.1:9/v1", "openai/gpt-4o-mini", price={"input_per_mtok": 3, "output_per_mtok": 9})
    assert override.price is not None and override.price.input_per_mtok == 3


async def test_completion_through_litellm_with_cost_map_prices(upstream: FaultyUpstream, upstream_url: str) -> None:
    hosted = backend(upstream_url, "openai/gpt-4o-mini")
    result = await hosted.generate(request(seed=3))
    assert result.completions[0].text == upstream.reply
    sent, headers = upstream.requests[-1], upstream.headers[-1]
    assert sent["model"] == "gpt-4o-mini" and sent["seed"] == 3
    assert headers["authorization"] == "Bearer sk-provider-test"
    usage = upstream.completion(sent)["usage"]
    assert result.usage.prompt_tokens == usage["prompt_tokens"]
    expected = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.6) / 1e6
    assert result.usage.cost_usd == pytest.approx(expected, rel=1e-6)


async def test_n_in_one_call_for_openai(upstream: FaultyUpstream, upstream_url: str) -> None:
    result = await backend(upstream_url).generate(request(n=4, temperature=0.8))
    assert len(result.completions) == 4 and len(upstream.requests) == 1 and upstream.requests[0]["n"] == 4


async def test_reasoning_effort_reaches_the_provider_and_reasoning_tokens_come_back(
    upstream: FaultyUpstream, upstream_url: str
) -> None:
    hosted = backend(upstream_url, "openai/o3-mini")
    result = await hosted.generate(request(thinking=ThinkingBudget(max_tokens=2048, effort="medium")))
    assert upstream.requests[-1]["reasoning_effort"] == "medium"
    assert result.usage.reasoning_tokens == len(upstream.reasoning.split())
    assert result.completions[0].reasoning == upstream.reasoning


async def test_streaming_through_litellm(upstream: FaultyUpstream, upstream_url: str) -> None:
    chunks = [c async for c in backend(upstream_url).stream(request())]
    assert "".join(c.text for c in chunks).split() == upstream.reply.split()
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(upstream.reply.split())


async def test_429_retried_after_retry_after_then_500_surfaces_as_502(
    upstream: FaultyUpstream, upstream_url: str
) -> None:
    upstream.push(Fault("status", status=429, retry_after="1"))
    result = await backend(upstream_url).generate(request())
    assert result.completions[0].text == upstream.reply
    assert len(upstream.arrivals) == 2 and upstream.arrivals[1] - upstream.arrivals[0] >= 0.95
    upstream.reset()
    upstream.push(*[Fault("status", status=500)] * 3)
    with pytest.raises(UpstreamUnavailable) as raised:
        await backend(upstream_url, max_retries=2).generate(request())
    assert raised.value.status_code == 502 and len(upstream.requests) == 3  # LiteLLM's own retries are off


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault("status", status=429, retry_after="0"), UpstreamRateLimited),
        (Fault("status", status=400), UpstreamBadRequest),
        (Fault("status", status=503), UpstreamUnavailable),
        (Fault("malformed"), UpstreamUnavailable),
    ],
)
async def test_litellm_errors_become_thinkroute_errors(
    upstream: FaultyUpstream, upstream_url: str, fault: Fault, error: type[Exception]
) -> None:
    upstream.push(fault)
    with pytest.raises(error):
        await backend(upstream_url, max_retries=0).generate(request())


async def test_deadline_cuts_a_slow_provider(upstream: FaultyUpstream, upstream_url: str) -> None:
    upstream.push(Fault("slow_first_byte", delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await backend(upstream_url).generate(request(deadline=started + 0.8))
    assert time.monotonic() - started < 1.6
