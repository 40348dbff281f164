"""The local backend behind the async Backend interface: budget forcing, steps, streaming, batching, 503s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from local_backend.engine import EngineResult, Job, LocalEngine, SamplingParams
from router.api import create_app
from router.backends.base import ChatMessage, GenerationRequest, ThinkingBudget
from router.backends.local import LocalBackend
from router.errors import ServiceUnavailable
from router.policy import load_policy
from router.policy.schema import BestOfNConfig, BoundedReasoningConfig, LocalBackendConfig
from router.strategies.best_of_n import BestOfN
from router.strategies.bounded_reasoning import BoundedReasoning
from tests.local_backend.test_batching import Blocker
from tests.local_backend.tiny import build_tiny_engine, one_thread
from tests.router.strategies.helpers import context
from tests.support import UvicornThread

POLICY = Path(__file__).resolve().parents[3] / "policies" / "default.yaml"
QUESTION = (ChatMessage("user", "What is 12 + 7?"),)


@pytest.fixture(autouse=True)
def _tiny_model_on_one_thread() -> Iterator[None]:
    with one_thread():
        yield


def _backend(engine: LocalEngine | None = None, **config: object) -> LocalBackend:
    settings = LocalBackendConfig.model_validate({"type": "local", "batch_wait_ms": 0, **config})
    return LocalBackend("tiny", settings, engine=engine or build_tiny_engine())


def _block(backend: LocalBackend) -> Blocker:
    """Occupy the backend's engine thread with a job that waits for ``release``."""
    blocker = Blocker()
    assert backend.scheduler is not None
    backend.scheduler.submit(Job("hold", SamplingParams(max_new_tokens=1), processors=(blocker,)))
    assert blocker.entered.wait(30)
    return blocker


async def test_thinking_budget_fills_reasoning_and_usage() -> None:
    backend = _backend()
    request = GenerationRequest(QUESTION, max_tokens=6, thinking=ThinkingBudget(max_tokens=8, min_tokens=8))
    result = await backend.generate(request)
    [completion] = result.completions
    assert completion.reasoning_tokens == 8 and completion.reasoning
    assert "Answer:" not in completion.reasoning and "Answer:" not in completion.text
    assert 8 < completion.completion_tokens <= 8 + 6
    assert result.usage.reasoning_tokens == 8 and result.usage.completion_tokens == completion.completion_tokens
    await backend.aclose()


async def test_bounded_reasoning_forces_the_budget_on_the_local_backend() -> None:
    backend = _backend()
    assert backend.capabilities.budget_forcing and backend.capabilities.stepwise and backend.capabilities.native_n
    config = BoundedReasoningConfig(type="bounded_reasoning", backend="local", thinking_budgets=[12],
                                    min_thinking_ratio=0.5)  # fmt: skip
    result = await BoundedReasoning().run(context(backend, config, params={"thinking_budget": 12}, max_tokens=4))
    completion = result.completion
    assert result.details["mode"] == "native"
    assert 6 <= completion.reasoning_tokens <= 12 and completion.reasoning
    assert completion.completion_tokens <= 12 + 4 and result.usage.reasoning_tokens == completion.reasoning_tokens
    await backend.aclose()


async def test_best_of_n_waves_share_one_prefill_per_wave() -> None:
    engine = build_tiny_engine()
    delivered: list[EngineResult] = []
    run = engine.run

    def recording(jobs: Sequence[Job], on_result: Callable[[int, EngineResult], None]) -> list[EngineResult]:
        def deliver(index: int, result: EngineResult) -> None:
            delivered.append(result)
            on_result(index, result)

        return run(jobs, deliver)

    engine.run = recording  # type: ignore[method-assign]
    backend = _backend(engine)
    config = BestOfNConfig(type="best_of_n", backend="local", n_values=[4], wave_size=4, min_samples=4)
    result = await BestOfN().run(context(backend, config, params={"n": 4}, max_tokens=4, seed=1))
    assert result.samples == 4
    [wave] = delivered
    assert wave.batch_rows == 4 and wave.prefill_tokens == wave.prompt_tokens  # one prefill for the four samples
    assert result.usage.prompt_tokens == wave.prompt_tokens
    await backend.aclose()


async def test_step_returns_k_branches_per_prefix() -> None:
    backend = _backend()
    request = GenerationRequest(QUESTION, max_tokens=5, temperature=1.0, seed=3)
    branches = await backend.step(request, k=2, delimiter="\n\n", prefixes=["First,", "Second,"])
    assert [b.prefix for b in branches] == ["First,", "First,", "Second,", "Second,"]
    assert all(0 < b.num_tokens <= 5 and len(b.logprobs) == b.num_tokens for b in branches)
    assert all(b.finish_reason in ("delimiter", "eos", "stop", "length") for b in branches)
    await backend.aclose()


async def test_stream_gives_the_generated_text() -> None:
    backend = _backend()
    request = GenerationRequest(QUESTION, max_tokens=10)
    expected = (await backend.generate(request)).completions[0]
    chunks = [chunk async for chunk in backend.stream(request)]
    assert "".join(c.text for c in chunks).strip() == expected.text
    assert chunks[-1].finish_reason == expected.finish_reason and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == expected.completion_tokens
    await backend.aclose()


async def test_stream_with_a_thinking_budget_separates_reasoning_from_the_answer() -> None:
    backend = _backend()
    request = GenerationRequest(QUESTION, max_tokens=12, thinking=ThinkingBudget(max_tokens=8, min_tokens=8))
    expected = (await backend.generate(request)).completions[0]
    chunks = [chunk async for chunk in backend.stream(request)]
    assert "".join(c.reasoning for c in chunks).strip() == expected.reasoning
    assert "".join(c.text for c in chunks).strip() == expected.text
    assert chunks[-1].usage is not None and chunks[-1].usage.reasoning_tokens == 8
    await backend.aclose()


async def test_concurrent_requests_are_batched_with_unchanged_outputs() -> None:
    backend = _backend(batch_wait_ms=300)
    requests = [GenerationRequest((ChatMessage("user", q),), max_tokens=8) for q in ("Hi", "What is 2 + 2?", "Why?")]
    alone = [(await backend.generate(r)).completions[0].text for r in requests]
    batches = backend.scheduler.batches if backend.scheduler else 0
    together = await asyncio.gather(*(backend.generate(r) for r in requests))
    assert [r.completions[0].text for r in together] == alone
    assert backend.scheduler is not None and backend.scheduler.batches == batches + 1
    await backend.aclose()


async def test_batch_listener_hears_the_sequences_of_every_batch() -> None:
    backend = _backend(batch_wait_ms=300)
    heard: list[int] = []
    backend.batch_listener = heard.append
    requests = [GenerationRequest((ChatMessage("user", q),), max_tokens=4, n=n) for q, n in (("Hi", 1), ("Why?", 3))]
    await backend.generate(requests[0])
    await asyncio.gather(*(backend.generate(r) for r in requests))
    assert heard == [1, 4]
    await backend.aclose()


async def test_full_queue_is_service_unavailable_and_cancelling_frees_the_slot() -> None:
    backend = _backend(max_queue=2)
    blocker = _block(backend)
    try:
        waiting = asyncio.create_task(backend.generate(GenerationRequest(QUESTION, max_tokens=2)))
        await asyncio.sleep(0.05)
        assert backend.queue_depth == 2
        with pytest.raises(ServiceUnavailable) as refused:
            await backend.generate(GenerationRequest(QUESTION, max_tokens=2))
        assert refused.value.retry_after is not None and refused.value.retry_after > 0
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert backend.queue_depth == 1
    finally:
        blocker.release.set()
    result = await backend.generate(GenerationRequest(QUESTION, max_tokens=2))
    assert result.completions[0].completion_tokens <= 2
    await backend.aclose()


@pytest.fixture
def blocked_server() -> Iterator[tuple[str, Blocker]]:
    backends: list[LocalBackend] = []

    def factory(name: str, config: LocalBackendConfig) -> LocalBackend:
        backends.append(LocalBackend(name, config.model_copy(update={"max_queue": 1}), engine=build_tiny_engine()))
        return backends[-1]

    app = create_app(load_policy(POLICY), backend_factories={"local": factory})  # type: ignore[dict-item]
    with UvicornThread(app) as server:
        blocker = _block(backends[-1])
        try:
            yield server.base_url, blocker
        finally:
            blocker.release.set()


def test_full_queue_answers_503_with_retry_after_over_http(blocked_server: tuple[str, Blocker]) -> None:
    base_url, blocker = blocked_server
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    refused = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=30)
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "service_unavailable"
    blocker.release.set()
    served = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=60)
    assert served.status_code == 200, served.text


async def test_served_requests_record_the_schedulers_batch_sizes_in_metrics() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    app = create_app(
        load_policy(POLICY),
        backend_factories={"local": lambda name, config: LocalBackend(name, config, engine=build_tiny_engine())},
    )  # type: ignore[dict-item]
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "n": 3}
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        text = (await client.get("/metrics")).text
    samples = {(s.name, s.labels.get("le")): s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name.startswith("thinkroute_backend_batch_size")}  # fmt: skip
    assert samples[("thinkroute_backend_batch_size_count", None)] == 1  # one batch of the request's 3 samples
    assert samples[("thinkroute_backend_batch_size_sum", None)] == 3
