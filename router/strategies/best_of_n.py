"""best_of_n: sample in waves, score with a verifier, vote; stop as soon as more samples stop paying.

Without verifier scores this is self-consistency (majority vote over extracted, normalised
answers); with scores it is a weighted vote. After each wave the stopping rules look at the
votes and the best score so far (Adaptive-Consistency's Beta criterion, ESC's agreement window,
a score plateau); the deadline, the token cap and ``n`` always stop it. The winner is the
best-scored sample of the winning answer class. A deadline timeout in a later wave (sampling or
judging) returns the best answer so far, marked anytime; before any sample it is a 504.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from router.backends.base import Completion
from router.errors import UpstreamTimeout
from router.stopping.base import StopReason
from router.strategies.base import StrategyContext, StrategyResult, StreamEvent
from router.strategies.components import build_stopping, build_verifier, sampling_state, task_for
from router.strategies.streaming import stream_by_running
from router.strategies.waves import WaveSampler

__all__ = ["BestOfN"]


class BestOfN:
    """Waves of samples, verified and voted, with adaptive early stopping."""

    async def run(self, ctx: StrategyContext) -> StrategyResult:
        config = ctx.config
        n_max = int(ctx.plan.params.get("n", config.n_values[-1]))
        verifier = build_verifier(config.verifier, ctx)
        stopping = build_stopping(config.stopping)
        task = task_for(ctx.request)
        temperature = ctx.request.temperature or config.temperature
        sampler = WaveSampler(ctx.backend, ctx.request.with_(temperature=temperature), ctx.plan)
        answers: list[str | None] = []
        scores: list[float | None] = []
        best_by_wave: list[float] = []
        stop_reason = "n_max"
        while len(sampler.samples) < n_max:
            k = min(config.wave_size, n_max - len(sampler.samples))
            if not sampler.can_draw(k):
                stop_reason = sampler.stop_reason or "token_cap"
                break
            new = await sampler.draw(k)
            if new:
                try:
                    verdict = await verifier.score(task, [c.text for c in new])
                except UpstreamTimeout:  # the deadline cut the judge: vote on what was scored so far
                    stop_reason = StopReason.DEADLINE
                    break
                sampler.usage = sampler.usage + verdict.usage
                answers.extend(verdict.answers)
                scores.extend(verdict.scores)
                known = [s for s in scores if s is not None]
                best_by_wave.append(max(known) if known else 0.0)
            if sampler.stop_reason is not None:
                stop_reason = sampler.stop_reason
                break
            state = sampling_state(answers, scores, best_by_wave, n_max, config.min_samples)
            fired = stopping(state) if len(sampler.samples) >= config.min_samples else None
            if fired is not None:
                stop_reason = fired
                break
        if not sampler.samples:
            raise UpstreamTimeout("the deadline passed before any sample finished", backend=ctx.backend.name)
        winner, votes = _winner(sampler.samples, answers, scores)
        anytime = stop_reason == StopReason.DEADLINE
        details: dict[str, Any] = {"votes": votes, "n_max": n_max, "waves": sampler.waves, "answers": answers}
        return StrategyResult(winner, sampler.usage, len(sampler.samples), stop_reason, anytime, details)

    def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        return stream_by_running(self, ctx)


def _winner(
    samples: list[Completion], answers: list[str | None], scores: list[float | None]
) -> tuple[Completion, dict[str, float]]:
    """Weighted vote over answer classes (weight 1 without scores); best-scored sample of the winner."""
    votes: dict[str, float] = {}
    for i, answer in enumerate(answers[: len(samples)]):
        if answer is None:
            continue
        weight = scores[i] if i < len(scores) and scores[i] is not None else 1.0
        votes[answer] = votes.get(answer, 0.0) + float(weight)  # type: ignore[arg-type]
    if not votes:
        ranked = sorted(range(len(samples)), key=lambda i: -(scores[i] or 0.0) if i < len(scores) else 0.0)
        return samples[ranked[0]], votes
    # ties broken by first appearance, so the result is deterministic
    order = {a: answers.index(a) for a in votes}
    best_answer = max(votes, key=lambda a: (votes[a], -order[a]))
    members = [i for i, a in enumerate(answers[: len(samples)]) if a == best_answer]
    best = max(members, key=lambda i: (scores[i] if scores[i] is not None else 0.0, -i))
    return samples[best], votes
