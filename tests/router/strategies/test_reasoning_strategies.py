"""chain_of_draft and bounded_reasoning: thinking returned apart from the answer, counted in usage."""

from __future__ import annotations

from router.backends.base import BackendCapabilities, Completion, GenerationRequest, GenerationResult, Usage
from router.backends.scripted import ScriptedBackend
from router.policy.schema import BoundedReasoningConfig, ChainOfDraftConfig
from router.strategies import StrategyResult
from router.strategies.bounded_reasoning import BoundedReasoning, effort_for_budget
from router.strategies.chain_of_draft import ChainOfDraft
from tests.router.strategies.helpers import context


async def test_chain_of_draft_splits_drafts_from_the_answer() -> None:
    backend = ScriptedBackend(["6*7 -> 42 check: yes\n#### 42"])
    config = ChainOfDraftConfig(type="chain_of_draft", backend="local", words_per_step=5)
    result = await ChainOfDraft().run(context(backend, config, params={"draft_tokens": 32}))
    assert result.completion.text == "42"
    assert result.completion.reasoning == "6*7 -> 42 check: yes"
    assert 0 < result.completion.reasoning_tokens < result.completion.completion_tokens
    assert result.usage.reasoning_tokens == result.completion.reasoning_tokens
    sent = backend.calls[0]
    assert "5 words at most" in sent.messages[0].content and sent.messages[0].role == "system"
    assert sent.max_tokens == 32 + 16


async def test_bounded_reasoning_prompts_a_backend_without_thinking_support() -> None:
    backend = ScriptedBackend(["First multiply. Six sevens are 42.\n#### 42"])
    config = BoundedReasoningConfig(type="bounded_reasoning", backend="local", thinking_budgets=[64])
    result = await BoundedReasoning().run(context(backend, config, params={"thinking_budget": 64}))
    assert result.completion.text == "42"
    assert result.completion.reasoning == "First multiply. Six sevens are 42."
    assert result.details["mode"] == "prompted"
    assert backend.calls[0].max_tokens == 64 + 16
    assert backend.calls[0].thinking is None


class _ThinkingBackend(ScriptedBackend):
    """A backend with a native thinking knob, reporting reasoning tokens like a provider does."""

    capabilities = BackendCapabilities(native_n=True, thinking_knob=True)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.calls.append(request)
        assert request.thinking is not None
        completion = Completion("42", "stop", 30, reasoning="thought " * 25, reasoning_tokens=25)
        return GenerationResult([completion], Usage(10, 30, 25, 0.001, 1), "thinker")


async def test_bounded_reasoning_hands_the_budget_to_a_backend_with_a_knob() -> None:
    backend = _ThinkingBackend(["unused"])
    config = BoundedReasoningConfig(type="bounded_reasoning", backend="local", thinking_budgets=[2048],
                                    min_thinking_ratio=0.25)  # fmt: skip
    result: StrategyResult = await BoundedReasoning().run(context(backend, config, params={"thinking_budget": 2048}))
    thinking = backend.calls[0].thinking
    assert thinking is not None
    assert (thinking.max_tokens, thinking.min_tokens, thinking.effort) == (2048, 512, "medium")
    assert result.completion.reasoning_tokens == 25 and result.usage.reasoning_tokens == 25
    assert result.details["mode"] == "native"


def test_effort_levels_follow_the_budget() -> None:
    assert [effort_for_budget(b) for b in (256, 1024, 4096, 32000)] == ["low", "low", "medium", "high"]


async def test_streaming_a_reasoning_strategy_sends_reasoning_then_answer() -> None:
    backend = ScriptedBackend(["step one\n#### done"])
    config = ChainOfDraftConfig(type="chain_of_draft", backend="local")
    events = [e async for e in ChainOfDraft().stream(context(backend, config))]
    result = events[-1]
    assert isinstance(result, StrategyResult)
    reasoning = "".join(getattr(e, "reasoning", "") for e in events[:-1])
    text = "".join(getattr(e, "text", "") for e in events[:-1])
    assert (reasoning, text) == ("step one", "done")
