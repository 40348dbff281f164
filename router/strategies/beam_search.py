"""beam_search: step-wise search over partial solutions, scored by a process reward model.

Each beam is a partial solution. A step asks the backend to continue every beam up to the next
step delimiter (``expansions`` samples per beam, the assistant prefix being the beam so far);
the verifier scores each extended partial solution (used as a PRM); the best ``beam_width``
survive. A beam is finished when it writes the answer marker or stops producing steps. The
search stops when every surviving beam is finished, at ``max_steps``, the deadline or the
token cap; the best-scored beam (finished ones first) is the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from router.backends.base import Completion, GenerationRequest, Usage
from router.errors import UpstreamTimeout
from router.strategies.base import StrategyContext, StrategyResult, StreamEvent
from router.strategies.components import build_verifier, task_for
from router.strategies.reasoning_format import ANSWER_MARKER, split_reasoning, with_instruction
from router.strategies.streaming import stream_by_running

__all__ = ["BeamSearch"]

INSTRUCTION = (
    "Solve the problem step by step, one short step per line. "
    f"When you know the result, write {ANSWER_MARKER} followed by the final answer."
)


@dataclass
class _Beam:
    text: str
    score: float
    finished: bool
    tokens: int


class BeamSearch:
    """PRM-guided beam search over reasoning steps."""

    async def run(self, ctx: StrategyContext) -> StrategyResult:
        config = ctx.config
        width = int(ctx.plan.params.get("beam_width", config.beam_widths[0]))
        verifier = build_verifier(config.verifier, ctx)
        task = task_for(ctx.request)
        base = ctx.request.with_(
            messages=with_instruction(ctx.request.messages, INSTRUCTION),
            max_tokens=config.step_max_tokens,
            stop=(*ctx.request.stop, config.step_delimiter),
            temperature=ctx.request.temperature or config.temperature,
        )
        beams = [_Beam("", 0.0, False, 0)]
        usage = Usage()
        samples = 0
        stop_reason = "n_max"
        for step in range(config.max_steps):
            if all(b.finished for b in beams):
                stop_reason = "final_answer"
                break
            room = self._room(ctx, usage, sum(not b.finished for b in beams) * config.expansions, config)
            if room is not None:
                stop_reason = room
                break
            try:
                expanded, step_usage, drawn = await self._expand(ctx, base, beams, config.expansions, step)
            except (TimeoutError, UpstreamTimeout):  # the deadline cut the step: the best beams so far answer
                stop_reason = "deadline"
                break
            usage, samples = usage + step_usage, samples + drawn
            verdict = await verifier.score(task, [b.text for b in expanded])
            usage = usage + verdict.usage
            for beam, score in zip(expanded, verdict.scores, strict=True):
                beam.score = 0.0 if score is None else float(score)
            beams = sorted(expanded, key=lambda b: (-b.score, b.tokens))[:width]
        else:
            stop_reason = "final_answer" if all(b.finished for b in beams) else "step_cap"
        if samples == 0:
            raise UpstreamTimeout("the deadline passed before the first search step", backend=ctx.backend.name)
        best = max(beams, key=lambda b: (b.finished, b.score))
        split = split_reasoning(best.text)
        completion = Completion(split.answer, "stop", best.tokens, split.reasoning or None, 0)
        details = {"beam_width": width, "best_score": round(best.score, 4), "finished": best.finished}
        return StrategyResult(completion, usage, samples, stop_reason, stop_reason == "deadline", details)

    @staticmethod
    def _room(ctx: StrategyContext, usage: Usage, sequences: int, config: object) -> str | None:
        remaining = ctx.plan.remaining_s()
        if remaining is not None and remaining <= 0:
            return "deadline"
        step_tokens = int(getattr(config, "step_max_tokens", 0))
        if usage.completion_tokens + sequences * step_tokens > ctx.plan.token_cap:
            return "token_cap"
        return None

    @staticmethod
    async def _expand(
        ctx: StrategyContext, base: GenerationRequest, beams: list[_Beam], expansions: int, step: int
    ) -> tuple[list[_Beam], Usage, int]:
        usage = Usage()
        out: list[_Beam] = [b for b in beams if b.finished]
        live = [b for b in beams if not b.finished]
        seed = None if base.seed is None else base.seed + 1000 * step
        requests = [
            base.with_(assistant_prefix=b.text, n=expansions, deadline=ctx.plan.deadline,
                       seed=None if seed is None else seed + i)
            for i, b in enumerate(live)
        ]  # fmt: skip
        async with asyncio.timeout(ctx.plan.remaining_s()):
            results = await asyncio.gather(*(ctx.backend.generate(r) for r in requests))
        drawn = 0
        for beam, result in zip(live, results, strict=True):
            usage = usage + result.usage
            for completion in result.completions:
                drawn += 1
                step_text = completion.text.strip()
                finished = not step_text or ANSWER_MARKER in step_text or completion.finish_reason == "length"
                text = f"{beam.text}\n{step_text}".strip() if step_text else beam.text
                out.append(_Beam(text, 0.0, finished, beam.tokens + completion.completion_tokens))
        return out, usage, drawn

    def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        return stream_by_running(self, ctx)
