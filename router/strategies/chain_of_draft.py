"""chain_of_draft: minimal drafts per reasoning step, then the answer (Xu et al., 2025).

Chain of Draft keeps chain-of-thought's step structure but limits each step to a few words,
reaching similar accuracy with a fraction of the tokens. The drafts are returned as
``reasoning_content``, the answer as ``content``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from router.backends.base import Completion
from router.strategies.base import StrategyContext, StrategyResult, StreamEvent
from router.strategies.reasoning_format import ANSWER_MARKER, split_reasoning, with_instruction
from router.strategies.streaming import stream_by_running

__all__ = ["ChainOfDraft"]

INSTRUCTION = (
    "Think step by step, but keep only a minimal draft of each thinking step, {words} words at most. "
    f"Then write {ANSWER_MARKER} followed by the final answer."
)


class ChainOfDraft:
    """One completion with draft-sized reasoning steps, split into reasoning and answer."""

    async def run(self, ctx: StrategyContext) -> StrategyResult:
        draft_tokens = int(ctx.plan.params.get("draft_tokens", 64))
        instruction = INSTRUCTION.format(words=ctx.config.words_per_step)
        request = ctx.request.with_(
            messages=with_instruction(ctx.request.messages, instruction),
            max_tokens=min(draft_tokens + ctx.plan.max_tokens, ctx.plan.token_cap),
            n=1,
            deadline=ctx.plan.deadline,
        )
        result = await ctx.backend.generate(request)
        raw = result.completions[0]
        split = split_reasoning(raw.text)
        reasoning_tokens = _share(raw.completion_tokens, split.reasoning, raw.text)
        usage = result.usage
        usage.reasoning_tokens += reasoning_tokens
        completion = Completion(
            text=split.answer,
            finish_reason=raw.finish_reason,
            completion_tokens=raw.completion_tokens,
            reasoning=split.reasoning or None,
            reasoning_tokens=reasoning_tokens,
        )
        return StrategyResult(completion, usage, samples=1, stop_reason="single",
                              details={"answer_marker_found": split.found_marker})  # fmt: skip

    def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        return stream_by_running(self, ctx)


def _share(tokens: int, part: str, whole: str) -> int:
    """Tokens attributable to ``part`` of ``whole``, by character share."""
    if not whole:
        return 0
    return round(tokens * len(part) / len(whole))
