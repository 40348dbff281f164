"""Each strategy of the default policy end to end on the real bundled model, with short budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from router.backends.local import LocalBackend
from router.policy.schema import BeamSearchConfig, ChainOfDraftConfig, LocalBackendConfig, RevisionConfig
from router.strategies.beam_search import BeamSearch
from router.strategies.chain_of_draft import ChainOfDraft
from router.strategies.revision import Revision
from tests.router.strategies.helpers import context

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is 7 + 8?"}]


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="anything")


def test_best_of_n_votes_over_real_samples(model_server: str) -> None:
    raw = _client(model_server).chat.completions.with_raw_response.create(
        model="auto", messages=QUESTION, max_tokens=8, extra_headers={"x-thinkroute-strategy": "vote"}, seed=1
    )
    completion = raw.parse()
    samples = int(raw.headers["x-thinkroute-samples"])
    assert raw.headers["x-thinkroute-strategy"] == "vote"
    assert 4 <= samples <= 8 and samples % 4 == 0
    assert raw.headers["x-thinkroute-stop-reason"] in ("beta", "n_max", "token_cap")
    assert completion.usage is not None and completion.usage.completion_tokens <= samples * 8
    assert (completion.choices[0].message.content or "").strip()


def test_bounded_reasoning_stays_within_its_budget(model_server: str) -> None:
    raw = _client(model_server).chat.completions.with_raw_response.create(
        model="auto", messages=QUESTION, max_tokens=16, extra_headers={"x-thinkroute-strategy": "think"}
    )
    completion = raw.parse()
    assert raw.headers["x-thinkroute-strategy"] == "think"
    usage = completion.usage
    assert usage is not None and 0 < usage.completion_tokens <= 96 + 16
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens <= usage.completion_tokens


def test_the_planner_escalates_when_the_quality_bar_rises(model_server: str) -> None:
    client = _client(model_server)
    cheap = client.chat.completions.with_raw_response.create(model="auto", messages=QUESTION, max_tokens=4)
    assert cheap.headers["x-thinkroute-strategy"] == "single"
    strict = client.chat.completions.with_raw_response.create(
        model="auto", messages=QUESTION, max_tokens=4, extra_headers={"x-thinkroute-min-quality": "0.92"}
    )
    assert strict.headers["x-thinkroute-strategy"] in ("think", "vote")
    assert float(strict.headers["x-thinkroute-difficulty"]) == float(cheap.headers["x-thinkroute-difficulty"])


def test_streaming_a_search_strategy_streams_the_winner(model_server: str) -> None:
    stream = _client(model_server).chat.completions.create(
        model="auto", messages=QUESTION, max_tokens=6, stream=True, extra_headers={"x-thinkroute-strategy": "vote"}
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.strip()


@pytest.fixture(scope="module")
async def real_local(real_engine: Any) -> AsyncIterator[LocalBackend]:
    config = LocalBackendConfig.model_validate({"type": "local", "batch_wait_ms": 0})
    backend = LocalBackend("local", config, engine=real_engine)
    yield backend
    await backend.aclose()


async def test_chain_of_draft_returns_drafts_apart_from_the_answer(real_local: LocalBackend) -> None:
    config = ChainOfDraftConfig(type="chain_of_draft", backend="local", max_tokens=12, draft_tokens=[24])
    result = await ChainOfDraft().run(
        context(real_local, config, params={"draft_tokens": 24}, max_tokens=12, prompt="What is 7 + 8?")
    )
    usage = result.usage
    assert 0 < usage.completion_tokens <= 24 + 12 and usage.calls == 1
    assert result.completion.reasoning_tokens == usage.reasoning_tokens <= usage.completion_tokens
    if result.details["answer_marker_found"]:  # the base model does not always write the marker
        assert result.completion.reasoning and "####" not in (result.completion.text or "")


async def test_revision_generates_critiques_revises_and_counts_every_call(real_local: LocalBackend) -> None:
    config = RevisionConfig(type="revision", backend="local", max_tokens=8, max_rounds=[1], epsilon=0.0)
    result = await Revision().run(
        context(real_local, config, params={"rounds": 1}, max_tokens=8, prompt="What is 7 + 8?")
    )
    scores = result.details["scores"]
    assert 1 <= len(scores) <= 2 and all(0.0 <= s <= 1.0 for s in scores)
    # one answer, then per round a critique and a revision; every version graded by the judge (same backend)
    assert result.samples == 1 + 2 * (len(scores) - 1)
    assert result.usage.calls == result.samples + len(scores)
    assert result.stop_reason in ("plateau", "n_max")


async def test_beam_search_expands_steps_and_keeps_the_best_beams(real_local: LocalBackend) -> None:
    config = BeamSearchConfig(type="beam_search", backend="local", max_tokens=8, beam_widths=[2], expansions=2,
                              max_steps=2, step_max_tokens=8)  # fmt: skip
    result = await BeamSearch().run(
        context(real_local, config, params={"beam_width": 2}, max_tokens=8, prompt="What is 7 + 8?", seed=3)
    )
    # step 1 expands the empty beam twice; step 2 (if any beam is unfinished) at most two beams twice each
    assert 2 <= result.samples <= 2 + 4
    assert result.stop_reason in ("final_answer", "step_cap", "token_cap")
    assert 0.0 <= result.details["best_score"] <= 1.0
    assert result.usage.calls >= result.samples // 2 + 1  # expansion calls plus the judge's grading calls
