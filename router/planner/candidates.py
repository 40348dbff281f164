"""Candidates: each strategy of a route at each parameter setting it allows, with its token shape.

A candidate's *shape* says how much it generates and in how many sequential rounds, which the
predictor turns into latency and cost. Worst-case numbers (every sample to its cap) are what a
budget reservation must cover; expected numbers come from profiles when they exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from router.policy.schema import (
    BeamSearchConfig,
    BestOfNConfig,
    BoundedReasoningConfig,
    ChainOfDraftConfig,
    Policy,
    RevisionConfig,
    SinglePassConfig,
)

__all__ = ["JUDGE_MAX_TOKENS", "JUDGE_RUBRIC_TOKENS", "Candidate", "Shape", "expand_candidates", "params_key"]

JUDGE_RUBRIC_TOKENS = 96  # router.verifiers.llm_judge.RUBRIC is ~70 tokens in common tokenizers
JUDGE_MAX_TOKENS = 8  # LLMJudgeVerifier's default grade length


@dataclass(frozen=True)
class Shape:
    """How a candidate spends tokens: per sequence, how many sequences, in how many rounds."""

    answer_tokens: int  # answer cap per sample
    sequences: int  # samples generated in total at most
    rounds: int  # sequential backend rounds (waves, revision steps, search steps)
    per_sequence_cap: int  # tokens one sequence may generate (thinking + answer)
    calls: int  # backend calls (each pays the prompt once)
    expected_fraction: float = 0.6  # expected share of the cap actually generated, without a profile
    judge_calls: int = 0  # llm_judge grading calls at most (each pays the prompt, an answer and the rubric)
    judge_backend: str | None = None  # the backend that grades (the strategy's own when None)

    @property
    def token_cap(self) -> int:
        return self.sequences * self.per_sequence_cap

    def judge_prompt_tokens(self, prompt_tokens: int) -> int:
        """Worst-case prompt tokens of all grading calls: the question, one answer at its cap, the rubric."""
        return self.judge_calls * (prompt_tokens + self.per_sequence_cap + JUDGE_RUBRIC_TOKENS)

    @property
    def judge_completion_tokens(self) -> int:
        return self.judge_calls * JUDGE_MAX_TOKENS

    def worst_tokens(self, prompt_tokens: int) -> int:
        """Every token the plan may consume: prompts of every call, every sample at its cap, every grade."""
        judged = self.judge_prompt_tokens(prompt_tokens) + self.judge_completion_tokens
        return self.token_cap + self.calls * prompt_tokens + judged

    @property
    def sequences_per_round(self) -> int:
        return math.ceil(self.sequences / self.rounds)


@dataclass(frozen=True)
class Candidate:
    """One strategy at one parameter setting."""

    index: int
    strategy: str
    strategy_type: str
    backend: str
    params: Mapping[str, Any]
    shape: Shape
    config: Any = field(compare=False, repr=False)
    key: str = ""  # strategy and parameters, e.g. ``vote[n=8]``; filled in by expand_candidates


def params_key(params: Mapping[str, Any]) -> str:
    """A stable text form of parameters, e.g. ``[n=8]``."""
    if not params:
        return ""
    return "[" + ",".join(f"{k}={params[k]}" for k in sorted(params)) + "]"


def _shapes(config: Any, answer_tokens: int) -> list[tuple[dict[str, Any], Shape]]:
    a = min(answer_tokens, config.max_tokens)
    judged = getattr(config, "verifier", None) == "llm_judge"
    judge = getattr(config, "judge_backend", None)
    if isinstance(config, SinglePassConfig):
        return [({}, Shape(a, 1, 1, a, 1, 0.5))]
    if isinstance(config, ChainOfDraftConfig):
        return [({"draft_tokens": d}, Shape(a, 1, 1, d + a, 1, 0.6)) for d in config.draft_tokens]
    if isinstance(config, BoundedReasoningConfig):
        return [({"thinking_budget": b}, Shape(a, 1, 1, b + a, 1, 0.8)) for b in config.thinking_budgets]
    if isinstance(config, BestOfNConfig):
        out = []
        for n in config.n_values:
            waves = math.ceil(n / config.wave_size)
            out.append(({"n": n}, Shape(a, n, waves, a, waves, 0.5, judge_calls=n if judged else 0)))
        return out
    if isinstance(config, RevisionConfig):
        # generate, then per round: critique + revise; every version is graded
        return [({"rounds": r}, Shape(a, 1 + 2 * r, 1 + 2 * r, a, 1 + 2 * r, 0.6,
                                      judge_calls=1 + r if judged else 0, judge_backend=judge))
                for r in config.max_rounds]  # fmt: skip
    if isinstance(config, BeamSearchConfig):
        out = []
        for width in config.beam_widths:
            per_step = width * config.expansions
            sequences = per_step * config.max_steps
            shape = Shape(a, sequences, config.max_steps, config.step_max_tokens, config.max_steps, 0.5,
                          judge_calls=sequences if judged else 0)  # fmt: skip
            out.append(({"beam_width": width}, shape))
        return out
    raise TypeError(f"no candidate shapes for strategy type {config.type!r}")


def expand_candidates(policy: Policy, strategies: Sequence[str], answer_tokens: int) -> list[Candidate]:
    """Every (strategy, parameters) pair the planner may choose among, in policy order."""
    candidates: list[Candidate] = []
    for name in strategies:
        config = policy.strategies[name]
        for params, shape in _shapes(config, answer_tokens):
            key = f"{name}{params_key(params)}"
            candidates.append(Candidate(len(candidates), name, config.type, config.backend, params, shape, config, key))
    return candidates
