"""A deployment's GPU model server on another machine: the router reaches ``local_backend``'s own HTTP
server through the lean ``openai_compatible`` backend and through LiteLLM (``hosted_vllm/``).

The server runs a tiny random model (fast, deterministic); completions, streaming, ``n`` > 1, usage
and cost flow through to the router's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_backend.host import ServerSettings
from local_backend.server import create_app
from router.backends.base import ChatMessage, GenerationRequest
from router.backends.litellm_backend import LiteLLMBackend
from router.backends.openai_compatible import OpenAICompatibleBackend
from router.policy.schema import LiteLLMBackendConfig, OpenAICompatibleBackendConfig
from tests.local_backend.tiny import build_tiny_engine, one_thread
from tests.support import UvicornThread

PRICE = {"input_per_mtok": 10.0, "output_per_mtok": 30.0}
REQUEST = GenerationRequest((ChatMessage("user", "What is 12 + 7?"),), max_tokens=6, temperature=1.0, seed=11)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with one_thread():
        app = create_app(ServerSettings(batch_wait_ms=0), engine=build_tiny_engine())
        with UvicornThread(app) as server:
            yield server.base_url + "/v1"


def _lean(url: str) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend("gpu", OpenAICompatibleBackendConfig(
        type="openai_compatible", api_base=url, model="tiny", price=PRICE))  # type: ignore[arg-type]  # fmt: skip


def _cost(usage: Any) -> float:
    return (usage.prompt_tokens * PRICE["input_per_mtok"] + usage.completion_tokens * PRICE["output_per_mtok"]) / 1e6


async def test_lean_path_completions_with_n_usage_and_cost(server_url: str) -> None:
    backend = _lean(server_url)
    result = await backend.generate(REQUEST.with_(n=3))
    again = await backend.generate(REQUEST.with_(n=3))
    texts = [c.text for c in result.completions]
    assert len(texts) == 3 and texts == [c.text for c in again.completions]  # seeded: reproducible
    assert len(set(texts)) > 1
    assert result.usage.prompt_tokens > 0 and 0 < result.usage.completion_tokens <= 3 * 6
    assert result.usage.cost_usd == pytest.approx(_cost(result.usage))
    assert sum(c.completion_tokens for c in result.completions) == result.usage.completion_tokens
    await backend.aclose()


async def test_lean_path_streams_what_it_would_return(server_url: str) -> None:
    backend = _lean(server_url)
    whole = await backend.generate(REQUEST)
    chunks = [c async for c in backend.stream(REQUEST)]
    assert "".join(c.text for c in chunks).strip() == whole.completions[0].text.strip()
    last = chunks[-1]
    assert last.finish_reason in ("stop", "length") and last.usage is not None
    assert last.usage.completion_tokens == whole.usage.completion_tokens
    await backend.aclose()


async def test_litellm_path_to_the_same_server(server_url: str) -> None:
    config = LiteLLMBackendConfig(type="litellm", model="hosted_vllm/tiny", api_base=server_url, price=PRICE)  # type: ignore[arg-type]
    backend = LiteLLMBackend("gpu-litellm", config)
    assert backend.capabilities.native_n
    result = await backend.generate(REQUEST.with_(n=2))
    lean = await _lean(server_url).generate(REQUEST.with_(n=2))
    assert [c.text for c in result.completions] == [c.text for c in lean.completions]
    assert result.usage.completion_tokens == lean.usage.completion_tokens
    assert result.usage.cost_usd == pytest.approx(_cost(result.usage))
    chunks = [c async for c in backend.stream(REQUEST)]
    assert chunks[-1].usage is not None and "".join(c.text for c in chunks).strip()
