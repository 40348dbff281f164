"""What the LiteLLM backend hands LiteLLM on every call, so the SDK's own per-call work stays small."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from router.backends.base import GenerationRequest
from router.backends.litellm_backend import has_litellm_callbacks
from tests.router.backends.fault_upstream import FaultyUpstream
from tests.router.backends.litellm_support import QUESTION, backend

PRICING_ARGS = ("input_cost_per_token", "output_cost_per_token")


def request(deadline: float | None = None) -> GenerationRequest:
    return GenerationRequest(QUESTION, max_tokens=32, deadline=deadline)


async def test_litellm_prices_the_call_with_our_price_and_the_upstream_never_sees_it(
    upstream: FaultyUpstream, upstream_url: str
) -> None:
    hosted = backend(upstream_url, price={"input_per_mtok": 2.0, "output_per_mtok": 8.0})
    raw = await hosted._acompletion(hosted._call_args(request(), stream=False), 10.0)
    usage = upstream.completion(upstream.requests[-1])["usage"]
    expected = (usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 8.0) / 1e6
    # LiteLLM's own figure comes from the per-token prices we pass (custom pricing), not a cost-map search
    assert raw._hidden_params["response_cost"] == pytest.approx(expected, rel=1e-6)
    result = await hosted.generate(request())
    assert result.usage.cost_usd == pytest.approx(expected, rel=1e-6)
    assert not any(key in sent for sent in upstream.requests for key in PRICING_ARGS)


async def test_an_unpriced_model_costs_zero_on_both_sides(upstream: FaultyUpstream, upstream_url: str) -> None:
    hosted = backend(upstream_url, "hosted_vllm/unknown-model")
    assert hosted.price is None
    args = hosted._call_args(request(), stream=False)
    assert (args["input_cost_per_token"], args["output_cost_per_token"]) == (0.0, 0.0)
    result = await hosted.generate(request())
    assert result.completions[0].text == upstream.reply and result.usage.cost_usd == 0.0


async def test_policy_headers_reach_every_call_and_are_never_shared_with_litellm(
    upstream: FaultyUpstream, upstream_url: str
) -> None:
    hosted = backend(upstream_url, headers={"x-tenant": "acme"})
    first = hosted._call_args(request(), stream=False)
    first["extra_headers"]["x-added-by-litellm"] = "1"
    second = hosted._call_args(request(), stream=False)
    assert second["extra_headers"] == {"x-tenant": "acme"}
    await hosted.generate(request())
    await hosted.generate(request())
    assert [h.get("x-tenant") for h in upstream.headers] == ["acme", "acme"]


async def test_calls_under_different_deadlines_share_one_provider_client(
    upstream: FaultyUpstream, upstream_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    build = openai.AsyncOpenAI.__init__

    def counting(self: openai.AsyncOpenAI, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        build(self, *args, **kwargs)

    monkeypatch.setattr(openai.AsyncOpenAI, "__init__", counting)
    hosted = backend(upstream_url, timeout_s=17.0)
    for left in (5.0, 4.0, 3.5, 2.0, 9.0):
        args = hosted._call_args(request(time.monotonic() + left), stream=False)
        assert args["timeout"] == 17.0  # LiteLLM keys its client cache on it; the deadline is ours to enforce
        result = await hosted.generate(request(time.monotonic() + left))
        assert result.completions[0].text == upstream.reply
    assert len(built) <= 1 and len(upstream.requests) == 5


def test_messages_are_redacted_only_when_a_litellm_callback_could_receive_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    litellm = backend("http://127.0.0.1:9/v1")._litellm  # imported the backend's way: local cost map, no fetch
    monkeypatch.setattr(litellm, "turn_off_message_logging", False)
    for name in ("callbacks", "success_callback", "_async_success_callback", "failure_callback"):
        monkeypatch.setattr(litellm, name, [])
    assert not has_litellm_callbacks(litellm)
    backend("http://127.0.0.1:9/v1")
    assert litellm.turn_off_message_logging is False  # nothing receives LiteLLM's logging payload: no deep copy
    monkeypatch.setattr(litellm, "success_callback", [lambda *args: None])
    assert has_litellm_callbacks(litellm)
    backend("http://127.0.0.1:9/v1")
    assert litellm.turn_off_message_logging is True
