"""best_of_n, revision and beam_search on scripted backends, for exact control."""

from __future__ import annotations

import asyncio

import pytest

from router.backends.base import BackendCapabilities, GenerationRequest, GenerationResult
from router.backends.scripted import ScriptedBackend
from router.errors import UpstreamTimeout
from router.policy.schema import BeamSearchConfig, BestOfNConfig, RevisionConfig, StoppingRuleConfig
from router.stopping import StopReason
from router.strategies import Progress, StrategyResult
from router.strategies.beam_search import BeamSearch
from router.strategies.best_of_n import BestOfN
from router.strategies.revision import Revision
from tests.router.strategies.helpers import context


def _bon(**overrides: object) -> BestOfNConfig:
    beta = StoppingRuleConfig(rule="beta", params={"confidence": 0.95})
    base: dict[str, object] = {
        "type": "best_of_n", "backend": "local", "n_values": [16], "wave_size": 4, "min_samples": 2, "stopping": [beta],
    }  # fmt: skip
    return BestOfNConfig.model_validate({**base, **overrides})


async def test_unanimous_first_wave_stops_early_and_usage_sums_every_sample() -> None:
    backend = ScriptedBackend(["#### 42"], price_per_token=0.01)
    result = await BestOfN().run(context(backend, _bon(), params={"n": 16}))
    assert result.completion.text == "#### 42"
    assert result.samples == 4 and result.stop_reason == "beta"
    assert len(backend.calls) == 1 and backend.calls[0].n == 4
    assert result.usage.completion_tokens == 4 * 2
    assert result.usage.cost_usd == pytest.approx(sum(0.01 * (p + c) for p, c in [(5, 8)]))


async def test_split_votes_sample_to_n_max_and_the_majority_wins() -> None:
    answers = ["#### 1", "#### 2", "#### 1", "#### 3"]
    backend = ScriptedBackend(answers)
    result = await BestOfN().run(context(backend, _bon(), params={"n": 8}))
    assert result.samples == 8 and result.stop_reason == "n_max"
    assert result.completion.text == "#### 1"
    assert result.details["votes"] == {"1": 4.0, "2": 2.0, "3": 2.0}


async def test_token_cap_stops_before_a_wave_that_would_exceed_it() -> None:
    backend = ScriptedBackend(["#### 1", "#### 2"])
    result = await BestOfN().run(context(backend, _bon(), params={"n": 16}, max_tokens=4, token_cap=20))
    assert result.stop_reason == "token_cap"
    assert result.samples == 4  # a second wave of 4 x 4 tokens would pass the cap of 20


async def test_deadline_returns_the_best_so_far_marked_anytime() -> None:
    backend = ScriptedBackend(lambda request, i: f"#### {i % 3}", delay_s=0.3)
    result = await BestOfN().run(context(backend, _bon(), params={"n": 16}, deadline_s=0.45))
    assert result.anytime and result.stop_reason == "deadline"
    assert result.samples == 4


async def test_deadline_before_any_sample_is_a_timeout() -> None:
    backend = ScriptedBackend(["#### 1"], delay_s=1.0)
    with pytest.raises(UpstreamTimeout):
        await BestOfN().run(context(backend, _bon(), params={"n": 4}, deadline_s=0.1))


class _SingleOnly(ScriptedBackend):
    capabilities = BackendCapabilities(native_n=False)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        assert request.n == 1
        return await super().generate(request)


async def test_backends_without_native_n_get_parallel_calls_with_distinct_seeds() -> None:
    backend = _SingleOnly(["#### 5"])
    result = await BestOfN().run(context(backend, _bon(), params={"n": 4}, seed=100))
    assert result.samples == 4
    assert sorted(c.seed for c in backend.calls) == [100, 101, 102, 103]  # type: ignore[type-var]


async def test_weighted_vote_with_a_judge() -> None:
    def respond(request: GenerationRequest, i: int) -> str:
        if "grading" in request.messages[0].content:
            return "9" if "#### 7" in request.messages[0].content else "1"
        return ["#### 7", "#### 8", "#### 8", "#### 8"][i % 4]

    backend = ScriptedBackend(respond)
    config = _bon(verifier="llm_judge", stopping=[], n_values=[4])
    result = await BestOfN().run(context(backend, config, params={"n": 4}))
    assert result.completion.text == "#### 7"  # 0.9 beats 3 x 0.1
    assert result.usage.calls == 1 + 4  # one sampling call, four judge calls


class _TimesOutAfter(ScriptedBackend):
    """Answers its first ``ok_calls`` calls, then raises UpstreamTimeout as a remote backend does at the deadline."""

    def __init__(self, responses: list[str], *, ok_calls: int, native_n: bool) -> None:
        super().__init__(responses)
        self.ok_calls = ok_calls
        self.capabilities = BackendCapabilities(native_n=native_n)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        if len(self.calls) >= self.ok_calls:
            self.calls.append(request)
            raise UpstreamTimeout("the deadline passed before the upstream answered", backend=self.name)
        return await super().generate(request)


@pytest.mark.parametrize("native_n", [True, False], ids=["one_call_per_wave", "parallel_calls"])
async def test_an_upstream_timeout_in_a_later_wave_returns_the_best_so_far(native_n: bool) -> None:
    backend = _TimesOutAfter(["#### 1", "#### 2", "#### 1", "#### 3"], ok_calls=1 if native_n else 4,
                             native_n=native_n)  # fmt: skip
    result = await BestOfN().run(context(backend, _bon(stopping=[]), params={"n": 8}))
    assert result.stop_reason == StopReason.DEADLINE and result.anytime
    assert result.samples == 4 and result.completion.text == "#### 1"
    assert result.details["votes"] == {"1": 2.0, "2": 1.0, "3": 1.0}


@pytest.mark.parametrize("native_n", [True, False], ids=["one_call_per_wave", "parallel_calls"])
async def test_an_upstream_timeout_before_any_sample_propagates(native_n: bool) -> None:
    backend = _TimesOutAfter(["#### 1"], ok_calls=0, native_n=native_n)
    with pytest.raises(UpstreamTimeout, match="before the upstream answered"):
        await BestOfN().run(context(backend, _bon(), params={"n": 4}))


def _judged(request: GenerationRequest, i: int) -> str:
    if "grading" in request.messages[0].content:
        return "9" if "#### 7" in request.messages[0].content else "1"
    return ["#### 7", "#### 8", "#### 8", "#### 8"][i % 4]


class _JudgeTimesOutInWaveTwo(ScriptedBackend):
    async def generate(self, request: GenerationRequest) -> GenerationResult:
        judged = sum("grading" in r.messages[0].content for r in self.calls)
        if "grading" in request.messages[0].content and judged >= 4:
            self.calls.append(request)
            raise UpstreamTimeout("the deadline passed before the judge answered", backend=self.name)
        return await super().generate(request)


async def test_a_judge_timeout_in_a_later_wave_votes_on_what_was_scored() -> None:
    backend = _JudgeTimesOutInWaveTwo(_judged)
    result = await BestOfN().run(context(backend, _bon(verifier="llm_judge", stopping=[]), params={"n": 8}))
    assert result.stop_reason == StopReason.DEADLINE and result.anytime
    assert result.completion.text == "#### 7"
    assert result.samples == 8 and len(result.details["answers"]) == 4  # wave two was drawn, never scored


class _Recording(ScriptedBackend):
    """Keeps every result it returned, to sum what each call really cost."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.results: list[GenerationResult] = []

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        result = await super().generate(request)
        self.results.append(result)
        return result


async def test_usage_with_a_judge_sums_tokens_and_cost_of_every_sample_and_grade() -> None:
    backend = _Recording(_judged, price_per_token=0.001)
    config = _bon(verifier="llm_judge", stopping=[], n_values=[8])
    result = await BestOfN().run(context(backend, config, params={"n": 8}))
    judge_calls = [r for r in backend.calls if "grading" in r.messages[0].content]
    assert len(backend.calls) == 2 + 8 and len(judge_calls) == 8  # two waves of 4, one grade per sample
    prompt = sum(len(m.content.split()) for r in backend.calls for m in r.messages)
    assert result.usage.prompt_tokens == prompt == sum(r.usage.prompt_tokens for r in backend.results)
    assert result.usage.completion_tokens == 8 * 2 + 8 * 1  # "#### 7"-style samples, one-word grades
    assert result.usage.cost_usd == pytest.approx(0.001 * (prompt + 8 * 2 + 8 * 1))
    assert result.usage.calls == 10


async def test_streaming_sends_progress_while_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    import router.strategies.streaming as streaming

    monkeypatch.setattr(streaming, "HEARTBEAT_S", 0.05)
    backend = ScriptedBackend(["#### 9"], delay_s=0.2)
    events = [e async for e in BestOfN().stream(context(backend, _bon(), params={"n": 4}))]
    assert any(isinstance(e, Progress) for e in events)
    assert isinstance(events[-1], StrategyResult)
    assert "".join(getattr(e, "text", "") for e in events[:-1]) == "#### 9"


async def test_cancelling_the_strategy_cancels_the_backend_call() -> None:
    backend = ScriptedBackend(["#### 1"], delay_s=5)
    task = asyncio.ensure_future(BestOfN().run(context(backend, _bon(), params={"n": 4})))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_revision_stops_when_the_judge_sees_no_gain() -> None:
    def respond(request: GenerationRequest, i: int) -> str:
        prompt = request.messages[-1].content
        if "grading" in request.messages[0].content:
            return "6" if "better" in prompt else "4"
        if "Review the answer" in prompt:
            return "Too vague."
        if "feedback" in prompt:
            return "better answer"
        return "first answer"

    backend = ScriptedBackend(respond)
    config = RevisionConfig(type="revision", backend="local", max_rounds=[3], epsilon=0.05)
    result = await Revision().run(context(backend, config, params={"rounds": 3}))
    assert result.completion.text == "better answer"
    assert result.stop_reason == "plateau"  # round 2 revises to the same score: gain 0 < epsilon
    assert result.details["scores"] == [0.4, 0.6, 0.6]


class _SlowRevision(ScriptedBackend):
    """Answers at once, except the rewrite: it hangs (the deadline cuts it) or raises UpstreamTimeout."""

    def __init__(self, *, raises: bool, slow_first: bool = False) -> None:
        super().__init__(self._respond)
        self.raises, self.slow_first = raises, slow_first

    @staticmethod
    def _respond(request: GenerationRequest, i: int) -> str:
        if "grading" in request.messages[0].content:
            return "4"
        return "Too vague." if "Review the answer" in request.messages[-1].content else "first answer"

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        rewrite = "feedback" in request.messages[-1].content
        if (rewrite or self.slow_first) and not self.raises:
            await asyncio.sleep(5)
        if rewrite and self.raises:
            raise UpstreamTimeout("the deadline passed before the upstream answered", backend=self.name)
        return await super().generate(request)


@pytest.mark.parametrize("raises", [False, True], ids=["call_cut_by_the_deadline", "upstream_timeout"])
async def test_revision_returns_the_best_version_so_far_at_the_deadline(raises: bool) -> None:
    backend = _SlowRevision(raises=raises)
    config = RevisionConfig(type="revision", backend="local", max_rounds=[3], epsilon=0.05)
    result = await asyncio.wait_for(
        Revision().run(context(backend, config, params={"rounds": 3}, deadline_s=0.3)), timeout=3
    )
    assert result.completion.text == "first answer"
    assert result.stop_reason == StopReason.DEADLINE and result.anytime
    assert result.details["scores"] == [0.4] and result.samples == 2  # the first answer and its critique


async def test_revision_deadline_before_a_first_version_is_a_timeout() -> None:
    backend = _SlowRevision(raises=False, slow_first=True)
    config = RevisionConfig(type="revision", backend="local", max_rounds=[3], epsilon=0.05)
    with pytest.raises(UpstreamTimeout):
        await asyncio.wait_for(Revision().run(context(backend, config, params={"rounds": 3}, deadline_s=0.2)), 3)


async def test_beam_search_keeps_the_best_scored_partial_solutions() -> None:
    def respond(request: GenerationRequest, i: int) -> str:
        if "grading" in request.messages[0].content:
            return "9" if "good" in request.messages[0].content else "2"
        if not request.assistant_prefix:
            return ["good step", "bad step"][i % 2]
        return "#### 10"

    backend = ScriptedBackend(respond)
    config = BeamSearchConfig(type="beam_search", backend="local", beam_widths=[1], expansions=2, max_steps=3)
    result = await BeamSearch().run(context(backend, config, params={"beam_width": 1}))
    assert result.completion.text == "10"
    assert result.completion.reasoning == "good step"
    assert result.stop_reason == "final_answer"


async def test_beam_search_keeps_its_best_beam_when_a_later_step_times_out() -> None:
    # step 1: one expansion call (n=2) and two grading calls; step 2's expansion times out at the deadline
    backend = _TimesOutAfter(["first step", "other step", "7", "3"], ok_calls=3, native_n=True)
    config = BeamSearchConfig(type="beam_search", backend="local", beam_widths=[1], expansions=2, max_steps=3)
    result = await BeamSearch().run(context(backend, config, params={"beam_width": 1}))
    assert result.stop_reason == "deadline" and result.anytime
    assert result.samples == 2 and result.completion.text == "first step"
