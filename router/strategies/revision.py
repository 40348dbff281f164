"""revision: generate, critique, revise — textual feedback at test time (TPO-style).

Each round asks the model to critique its current answer and then to rewrite it using that
critique; the verifier scores every version. Revising stops when the score gain of a round falls
below ``epsilon`` (the returned answer is the best-scored version, never a worse revision), at
the round cap, the deadline or the token cap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from router.backends.base import ChatMessage, Completion, GenerationRequest, Usage
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
            result = await ctx.backend.generate(request)
            usage = usage + result.usage
            calls += 1
            return result.completions[0]

        async def score(text: str) -> float:
            nonlocal usage
            verdict = await verifier.score(task, [text])
            usage = usage + verdict.usage
            value = verdict.scores[0]
            return 0.0 if value is None else float(value)

        best = await ask(ctx.request.messages)
        best_score = await score(best.text)
        history = [round(best_score, 4)]
        stop_reason = "n_max"
        for _ in range(rounds):
            if self._out_of_room(ctx, usage):
                stop_reason = "deadline" if (ctx.plan.remaining_s() or 1) <= 0 else "token_cap"
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
                stop_reason = "plateau"
                break
        details = {"scores": history, "rounds": len(history) - 1}
        return StrategyResult(best, usage, samples=calls, stop_reason=stop_reason,
                              anytime=stop_reason == "deadline", details=details)  # fmt: skip

    @staticmethod
    def _out_of_room(ctx: StrategyContext, usage: Usage) -> bool:
        remaining = ctx.plan.remaining_s()
        if remaining is not None and remaining <= 0:
            return True
        return usage.completion_tokens + 2 * ctx.request.max_tokens > ctx.plan.token_cap

    def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        return stream_by_running(self, ctx)
