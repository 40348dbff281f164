"""Glue between strategies and the pluggable verifiers and stopping rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from router.backends.base import GenerationRequest
from router.stopping import SamplingState, build_rule, first_firing
from router.strategies.base import StrategyContext
from router.telemetry.instrument import traced_verifier
from router.verifiers import VerificationTask, Verifier
from router.verifiers import build_verifier as _build_verifier

__all__ = ["build_stopping", "build_verifier", "sampling_state", "task_for"]


def build_verifier(name: str, ctx: StrategyContext) -> Verifier:
    """The named verifier; ``llm_judge`` judges with the strategy's ``judge_backend`` or its own backend."""
    judge = getattr(ctx.config, "judge_backend", None)
    backend = ctx.backends.get(judge, ctx.backend) if judge else ctx.backend
    return traced_verifier(_build_verifier(name, backend))


def build_stopping(configs: Sequence[Any]) -> Callable[[SamplingState], str | None]:
    """Combined rules: the name of the first that fires, or ``None``."""
    rules = [build_rule(c.rule, c.params) for c in configs]
    return lambda state: first_firing(rules, state)


def sampling_state(
    answers: Sequence[str | None],
    scores: Sequence[float | None],
    best_by_wave: Sequence[float],
    n_max: int,
    min_samples: int,
) -> SamplingState:
    return SamplingState(tuple(answers), tuple(scores), tuple(best_by_wave), n_max, min_samples)


def task_for(request: GenerationRequest) -> VerificationTask:
    """What the verifier checks answers against: the client's conversation."""
    return VerificationTask(messages=request.messages)
