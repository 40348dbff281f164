"""Turn a chosen candidate into a plan and a strategy context: shared by serving and calibration."""

from __future__ import annotations

from router.backends.base import GenerationRequest
from router.planner.candidates import Candidate
from router.runtime import Runtime
from router.strategies import Plan, StrategyContext, StrategyResult

__all__ = ["execute", "plan_from", "strategy_context"]


def plan_from(candidate: Candidate, *, deadline: float | None, rule: str) -> Plan:
    """The plan for one candidate: its parameters, answer cap, token cap and deadline."""
    return Plan(
        strategy=candidate.strategy,
        strategy_type=candidate.strategy_type,
        params=dict(candidate.params),
        max_tokens=candidate.shape.answer_tokens,
        token_cap=candidate.shape.token_cap,
        deadline=deadline,
        rule=rule,
    )


def strategy_context(runtime: Runtime, plan: Plan, generation: GenerationRequest) -> StrategyContext:
    """What the plan's strategy needs: the request capped to the plan, its backend and config."""
    config = runtime.policy.strategies[plan.strategy]
    request = generation.with_(max_tokens=min(generation.max_tokens, plan.max_tokens))
    if request.temperature == 0.0 and config.temperature:
        request = request.with_(temperature=config.temperature)
    return StrategyContext(request, plan, runtime.backend_for(config.backend), runtime.backends, config)


async def execute(runtime: Runtime, plan: Plan, generation: GenerationRequest) -> StrategyResult:
    """Run a plan to completion."""
    return await runtime.strategies[plan.strategy].run(strategy_context(runtime, plan, generation))
