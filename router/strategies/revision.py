"""revision: generate, critique, revise — textual feedback at test time (TPO-style).

Each round asks the model to critique its current answer and then to rewrite it using that
critique; the verifier scores every version. Revising stops when the score gain of a round falls
below ``epsilon`` (the returned answer is the best-scored version, never a worse revision), at
the round cap, the deadline or the token cap. Every call is cut at the deadline: once a first
version exists, the best version so far is returned as an anytime answer; before it, a 504.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from router.backends.base import ChatMessage, Completion, GenerationRequest, Usage
from router.errors import UpstreamTimeout
from router.stopping.base import StopReason
from router.strategies.base import StrategyContext, StrategyResult, StreamEvent
from router.strategies.components import build_verifier, task_for
from router.strategies.streaming import stream_by_running

__all__ = ["CRITIQUE_PROMPT", "REVISE_PROMPT", "Revision"]

CRITIQUE_PROMPT = (
    "Review the answer above for the original request. List the concrete errors, gaps or unclear parts, "
    "briefly. If it is already correct and complete, say so."
)
REVISE_PROMPT = (
    "Here is feedback on your answer:\n{critique}\n\n"
    "Rewrite your answer to the original request, fixing these points. Reply with the improved answer only."
)

T = TypeVar("T")


async def _by_deadline(ctx: StrategyContext, call: Awaitable[T]) -> T:
    """``call``, cancelled when the plan's deadline passes (raised as :class:`UpstreamTimeout`)."""
    try:
        async with asyncio.timeout(ctx.plan.remaining_s()):
            return await call
    except TimeoutError:
        raise UpstreamTimeout("the deadline passed during a revision call", backend=ctx.backend.name) from None


class Revision:
    """Iterative self-refinement scored by a verifier."""

    async def run(self, ctx: StrategyContext) -> StrategyResult:
        rounds = int(ctx.plan.params.get("rounds", ctx.config.max_rounds[0]))
        verifier = build_verifier(ctx.config.verifier, ctx)
        task = task_for(ctx.request)
        usage = Usage()
        calls = 0

        async def ask(messages: tuple[ChatMessage, ...]) -> Completion:
            nonlocal usage, calls
            request: GenerationRequest = ctx.request.with_(messages=messages, n=1, deadline=ctx.plan.deadline)
            result = await _by_deadline(ctx, ctx.backend.generate(request))
            usage = usage + result.usage
            calls += 1
            return result.completions[0]

        async def score(text: str) -> float:
            nonlocal usage
            verdict = await _by_deadline(ctx, verifier.score(task, [text]))
            usage = usage + verdict.usage
            value = verdict.scores[0]
            return 0.0 if value is None else float(value)

        best = await ask(ctx.request.messages)  # no version yet: a timeout here propagates (504)
        history: list[float] = []
        stop_reason: str = StopReason.N_MAX
        try:
            best_score = await score(best.text)
            history.append(round(best_score, 4))
            for _ in range(rounds):
                if self._out_of_room(ctx, usage):
                    out_of_time = (ctx.plan.remaining_s() or 1) <= 0
                    stop_reason = StopReason.DEADLINE if out_of_time else StopReason.TOKEN_CAP
                    break
                base = (*ctx.request.messages, ChatMessage("assistant", best.text))
                critique = await ask((*base, ChatMessage("user", CRITIQUE_PROMPT)))
                revised = await ask((*base, ChatMessage("user", REVISE_PROMPT.format(critique=critique.text))))
                revised_score = await score(revised.text)
                history.append(round(revised_score, 4))
                gain = revised_score - best_score
                if revised_score > best_score:
                    best, best_score = revised, revised_score
                if gain < ctx.config.epsilon:
                    stop_reason = StopReason.PLATEAU
                    break
        except UpstreamTimeout:  # the deadline cut a call: the best version so far is the anytime answer
            stop_reason = StopReason.DEADLINE
        details = {"scores": history, "rounds": max(0, len(history) - 1)}
        return StrategyResult(best, usage, samples=calls, stop_reason=stop_reason,
                              anytime=stop_reason == StopReason.DEADLINE, details=details)  # fmt: skip

    @staticmethod
    def _out_of_room(ctx: StrategyContext, usage: Usage) -> bool:
        remaining = ctx.plan.remaining_s()
        if remaining is not None and remaining <= 0:
            return True
        return usage.completion_tokens + 2 * ctx.request.max_tokens > ctx.plan.token_cap

    def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        return stream_by_running(self, ctx)
