"""bounded_reasoning: think within a token budget, then answer.

The thinking budget (``thinking_budget`` chosen by the planner; minimum = ``min_thinking_ratio``
of it) is handed to the backend as a :class:`ThinkingBudget`. Providers map it to their knobs
(``reasoning_effort`` / thinking ``budget_tokens``); the local backend enforces it token by token
with s1-style budget forcing ("Wait" below the minimum, a forced end of thinking at the maximum).
A backend with neither gets a prompted think-then-answer format capped at budget + answer tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from router.backends.base import Completion, ThinkingBudget
from router.strategies.base import StrategyContext, StrategyResult, StreamEvent
from router.strategies.reasoning_format import ANSWER_MARKER, split_reasoning, with_instruction
from router.strategies.streaming import stream_by_running

__all__ = ["BoundedReasoning", "effort_for_budget"]

PROMPTED_INSTRUCTION = (
    "Think through the problem step by step before answering, in at most {budget} tokens. "
    f"Then write {ANSWER_MARKER} followed by the final answer only."
)


def effort_for_budget(budget: int) -> Literal["low", "medium", "high"]:
    """The ``reasoning_effort`` level closest to a thinking budget in tokens."""
    if budget <= 1024:
        return "low"
    if budget <= 8192:
        return "medium"
    return "high"


class BoundedReasoning:
    """One completion with a thinking budget between a minimum and a maximum."""

    async def run(self, ctx: StrategyContext) -> StrategyResult:
        budget = int(ctx.plan.params.get("thinking_budget", ctx.config.thinking_budgets[0]))
        answer_tokens = ctx.plan.max_tokens
        caps = ctx.backend.capabilities
        if caps.budget_forcing or caps.thinking_knob:
            thinking = ThinkingBudget(
                max_tokens=budget,
                min_tokens=int(budget * ctx.config.min_thinking_ratio),
                effort=effort_for_budget(budget),
            )
            request = ctx.request.with_(thinking=thinking, max_tokens=answer_tokens, n=1, deadline=ctx.plan.deadline)
            result = await ctx.backend.generate(request)
            completion = result.completions[0]
            return StrategyResult(completion, result.usage, samples=1, stop_reason="single",
                                  details={"thinking_budget": budget, "mode": "native"})  # fmt: skip
        return await self._prompted(ctx, budget, answer_tokens)

    async def _prompted(self, ctx: StrategyContext, budget: int, answer_tokens: int) -> StrategyResult:
        request = ctx.request.with_(
            messages=with_instruction(ctx.request.messages, PROMPTED_INSTRUCTION.format(budget=budget)),
            max_tokens=min(budget + answer_tokens, ctx.plan.token_cap),
            n=1,
            deadline=ctx.plan.deadline,
        )
        result = await ctx.backend.generate(request)
        raw = result.completions[0]
        split = split_reasoning(raw.text)
        reasoning_tokens = round(raw.completion_tokens * len(split.reasoning) / len(raw.text)) if raw.text else 0
        result.usage.reasoning_tokens += reasoning_tokens
        completion = Completion(split.answer, raw.finish_reason, raw.completion_tokens,
                                split.reasoning or None, reasoning_tokens)  # fmt: skip
        return StrategyResult(completion, result.usage, samples=1, stop_reason="single",
                              details={"thinking_budget": budget, "mode": "prompted"})  # fmt: skip

    def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        return stream_by_running(self, ctx)
