"""Serving logic of ``/v1/chat/completions``: route, plan, execute, and shape the OpenAI response."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from router.api.openai_payloads import FINISH_REASONS, choice_json, sse_line, usage_json
from router.api.protocol import ChatCompletionRequest
from router.backends.base import GenerationRequest, StreamChunk, Usage
from router.budgets import BudgetService, Cost
from router.budgets.metering import MeteredBackend, SpendMeter
from router.budgets.service import Ticket
from router.budgets.stores import StoreUnavailable
from router.calibration.online import observed_quality
from router.difficulty import DifficultyEstimate, DifficultyService
from router.errors import (
    BackendError,
    BudgetExceeded,
    InvalidRequest,
    ModelNotFound,
    RateLimited,
    ServiceUnavailable,
    SLOUnsatisfiable,
    UpstreamBadRequest,
)
from router.execution import plan_from, strategy_context
from router.planner import SLO, Candidate, Decision, plan
from router.planner.slo import SLO_HEADERS, resolve_slo
from router.planner.tokens import estimate_prompt_tokens
from router.policy.schema import RouteConfig
from router.runtime import Runtime
from router.strategies import Plan, Progress, StrategyContext, StrategyResult
from router.telemetry import RequestOutcome, Telemetry, current_outcome

__all__ = ["ChatService", "PreparedChat"]


@dataclass
class PreparedChat:
    """A validated request with its decision, ready to execute."""

    request: ChatCompletionRequest
    runtime: Runtime
    route_name: str
    route: RouteConfig
    generation: GenerationRequest
    plan: Plan
    decision: Decision
    difficulty: DifficultyEstimate
    request_id: str
    tenant: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    created: int = field(default_factory=lambda: int(time.time()))
    completion_id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    started: float = field(default_factory=time.monotonic)
    ticket: Ticket | None = None
    spent: SpendMeter = field(default_factory=SpendMeter)
    outcome: RequestOutcome = field(default_factory=current_outcome)  # the telemetry record of this request
    candidate: Candidate | None = None  # the candidate being executed (the fallback's, after a fallback)


class ChatService:
    """Turns chat requests into plans and plans into OpenAI-shaped responses."""

    def __init__(
        self,
        runtime_getter: Callable[[], Runtime],
        difficulty: DifficultyService,
        telemetry: Telemetry | None = None,
        budgets: BudgetService | None = None,
    ) -> None:
        self._runtime = runtime_getter
        self.difficulty = difficulty
        self.telemetry = telemetry or Telemetry.noop()
        self.budgets = budgets

    async def decide(
        self, body: ChatCompletionRequest, headers: Mapping[str, str], tenant: str | None = None
    ) -> tuple[Runtime, RouteConfig, GenerationRequest, DifficultyEstimate, Decision]:
        """Route, resolve the SLO, classify and plan; raises the request's 4xx errors."""
        runtime = self._runtime()
        route = runtime.policy.routes.get(body.model)
        tenant_policy = runtime.policy.tenants.get(tenant) if tenant else None
        allowed = tenant_policy.routes if tenant_policy is not None else None
        if route is None or (allowed is not None and body.model not in allowed):
            known = ", ".join(sorted(runtime.policy.routes))
            raise ModelNotFound(f"The model {body.model!r} does not exist (routes: {known}).", param="model")
        current_outcome().note_route(body.model, tenant)
        generation = self._generation_request(body, route, runtime)
        body_slo = body.thinkroute.model_dump() if body.thinkroute else None
        slo = resolve_slo(headers, body_slo, tenant_policy.slo if tenant_policy else None, route.slo)
        strategies = list(route.strategies)
        if slo.strategy is not None:
            if slo.strategy not in route.strategies:
                param = SLO_HEADERS["strategy"] if SLO_HEADERS["strategy"] in headers else "thinkroute.strategy"
                raise InvalidRequest(
                    f"Strategy {slo.strategy!r} is not offered by route {body.model!r} (offers: {strategies}).",
                    param=param,
                )
            strategies = [slo.strategy]
        with self.telemetry.stage("classify"):
            difficulty = await self.difficulty.score(generation.messages)
        budget_left = None
        if self.budgets is not None and tenant is not None and self.budgets.config.downgrade_on_budget:
            budget_left = await self._budget_left(tenant, body.n)
        with self.telemetry.stage("plan") as span:
            candidates = runtime.predictor.candidates(strategies, generation.max_tokens)
            prompt_tokens = estimate_prompt_tokens(generation.messages)
            decision = self._plan_within_budget(candidates, runtime, slo, difficulty.difficulty, prompt_tokens,
                                                budget_left, tenant)  # fmt: skip
            span.set_attribute("thinkroute.decision.rule", decision.rule)
        return runtime, route, generation, difficulty, decision

    async def prepare(
        self, body: ChatCompletionRequest, headers: Mapping[str, str], request_id: str, tenant: str | None = None
    ) -> PreparedChat:
        arrived = time.monotonic()
        try:
            runtime, route, generation, difficulty, decision = await self.decide(body, headers, tenant)
        except BudgetExceeded as exc:  # no plan fits the remaining budget
            self.telemetry.record_budget_rejection(tenant, exc.code or "budget")
            raise
        chosen = decision.chosen
        assert chosen is not None
        candidate = chosen.candidate
        timeout_s = runtime.policy.limits.request_timeout_s
        if decision.slo.latency_ms is not None:
            timeout_s = min(timeout_s, decision.slo.latency_ms / 1000.0)
        plan_ = plan_from(candidate, deadline=arrived + timeout_s, rule=decision.rule)
        prepared = PreparedChat(
            body, runtime, body.model, route, generation, plan_, decision, difficulty, request_id, tenant,
            started=arrived, candidate=candidate,
        )  # fmt: skip
        prepared.headers["x-thinkroute-strategy"] = plan_.strategy
        prepared.headers["x-thinkroute-difficulty"] = f"{difficulty.difficulty:.3f}"
        current_outcome().note_decision(body.model, tenant, decision, difficulty, plan_, stream=body.stream)
        if self.budgets is not None and tenant is not None:
            prompt_tokens = estimate_prompt_tokens(generation.messages)
            worst_tokens = candidate.shape.worst_tokens(prompt_tokens)  # every call, sample and grade at its cap
            worst = Cost(usd=chosen.prediction.worst_cost_usd * body.n, tokens=worst_tokens * body.n)
            with self.telemetry.stage("reserve"):
                try:
                    prepared.ticket = await self.budgets.reserve(tenant, worst)
                except (BudgetExceeded, RateLimited, ServiceUnavailable) as exc:  # 503: store down, fail_closed
                    self.telemetry.record_budget_rejection(tenant, exc.code or "budget")
                    raise
        return prepared

    @staticmethod
    def _plan_within_budget(
        candidates: list[Candidate], runtime: Runtime, slo: SLO, difficulty: float, prompt_tokens: int,
        budget_left: float | None, tenant: str | None,
    ) -> Decision:  # fmt: skip
        """Plan under the remaining budget; when only the budget rules every plan out, that is a 402."""
        try:
            return plan(candidates, runtime.planner(), slo, difficulty, prompt_tokens, budget_left_usd=budget_left)
        except SLOUnsatisfiable:
            if budget_left is None:
                raise
            plan(candidates, runtime.planner(), slo, difficulty, prompt_tokens)  # re-raises if the SLO itself fails
            raise BudgetExceeded(
                f"Tenant {tenant!r} has ${budget_left:.6f} left; no plan for this request fits it.",
                details={"tenant": tenant, "remaining_usd": budget_left},
            ) from None

    async def _budget_left(self, tenant: str, n: int) -> float | None:
        assert self.budgets is not None
        try:
            left = await self.budgets.remaining_usd(tenant)
        except StoreUnavailable:
            return None
        return None if left is None else left / max(1, n)

    async def finish(self, prepared: PreparedChat) -> None:
        """The end of a request, however it ended: record what it spent in telemetry, then settle it.

        Telemetry counts the metered total (every call: failed attempts, fallbacks, partial streams),
        which is also what budgets charge. Idempotent."""
        prepared.outcome.note_spend(prepared.spent.usage)
        await self.settle(prepared)

    async def settle(self, prepared: PreparedChat) -> None:
        """Charge what the request actually spent (also after errors and disconnects); at most once."""
        if self.budgets is None or prepared.ticket is None or prepared.ticket.settled:
            return
        usage = prepared.spent.usage
        with self.telemetry.stage("settle"):
            await self.budgets.settle(prepared.ticket, Cost(usd=usage.cost_usd, tokens=usage.total_tokens))

    @staticmethod
    def _generation_request(body: ChatCompletionRequest, route: RouteConfig, runtime: Runtime) -> GenerationRequest:
        max_tokens = body.requested_max_tokens() or route.default_max_tokens
        if max_tokens > route.max_tokens_cap:
            raise InvalidRequest(
                f"max_tokens={max_tokens} exceeds this route's cap of {route.max_tokens_cap}.", param="max_tokens"
            )
        if body.n > runtime.policy.limits.max_n:
            raise InvalidRequest(f"n={body.n} exceeds the limit of {runtime.policy.limits.max_n}.", param="n")
        if body.stream and body.n > 1:
            raise InvalidRequest("n > 1 is not supported with stream=true.", param="n")
        return GenerationRequest(
            messages=body.chat_messages(),
            max_tokens=max_tokens,
            temperature=body.temperature if body.temperature is not None else 0.0,
            top_p=body.top_p if body.top_p is not None else 1.0,
            stop=body.stop_sequences(),
            seed=body.seed,
            logprobs=bool(body.logprobs),
        )

    def _context(self, prepared: PreparedChat) -> StrategyContext:
        """The strategy's context with metered, traced backends (the plan's own backend shares its wrapper
        with its entry in ``backends`` when it is that same backend, i.e. it has no fallbacks)."""
        ctx = strategy_context(prepared.runtime, prepared.plan, prepared.generation)
        tel, spent, plain, backends = self.telemetry, prepared.spent, ctx.backend, ctx.backends
        ctx.backends = {name: tel.instrument_backend(MeteredBackend(b, spent)) for name, b in backends.items()}
        shared = [ctx.backends[name] for name, b in backends.items() if b is plain]
        ctx.backend = shared[0] if shared else tel.instrument_backend(MeteredBackend(plain, spent))
        return ctx

    async def complete(self, prepared: PreparedChat) -> dict[str, Any]:
        """Run the plan ``n`` times (one per requested choice) and build a ChatCompletion."""
        try:
            results = await self._run_with_fallbacks(prepared)
            usage = sum((r.usage for r in results), Usage())
            prepared.outcome.note_result(usage, results)
        finally:  # also after errors: record and charge what was spent
            if self.budgets is None or prepared.ticket is None or prepared.ticket.settled:
                await self.finish(prepared)  # nothing to settle: it never suspends, so no cancellation can cut it
            else:
                await asyncio.shield(self.finish(prepared))
        _feedback(prepared, results)
        self._decision_headers(prepared, usage, results)
        model = prepared.route_name
        choices = [choice_json(i, r) for i, r in enumerate(results)]
        return {
            "id": prepared.completion_id,
            "object": "chat.completion",
            "created": prepared.created,
            "model": model,
            "choices": choices,
            "usage": usage_json(usage),
            "system_fingerprint": f"thinkroute-{prepared.plan.strategy}",
        }

    async def _run_plan(self, prepared: PreparedChat) -> list[StrategyResult]:
        strategy = prepared.runtime.strategies[prepared.plan.strategy]
        runs = [strategy.run(self._context(prepared)) for _ in range(prepared.request.n)]
        attributes = _plan_attributes(prepared.plan) if self.telemetry.recording else None  # unused untraced
        with self.telemetry.stage(prepared.plan.strategy_type, attributes):
            if len(runs) == 1:  # no task to create for the common n=1
                return [await runs[0]]
            return list(await asyncio.gather(*runs))

    async def _run_with_fallbacks(self, prepared: PreparedChat) -> list[StrategyResult]:
        """Run the plan; when its backends fail, the route's ``fallback_strategies`` in order (cheapest
        setting that fits the reservation), until one succeeds, the request was refused, or time ran out."""
        fallbacks = [s for s in prepared.route.fallback_strategies if s != prepared.plan.strategy]
        while True:
            try:
                return await self._run_plan(prepared)
            except BackendError as exc:
                if isinstance(exc, UpstreamBadRequest) or (prepared.plan.remaining_s() or 1.0) <= 0:
                    raise
                found = self._fallback_plan(prepared, fallbacks)
                if found is None:
                    raise
                fallback, prepared.candidate = found
                prepared.outcome.note_fallback(prepared.plan.strategy, fallback.strategy)
                prepared.headers["x-thinkroute-fallback-from"] = prepared.plan.strategy
                prepared.headers["x-thinkroute-strategy"] = fallback.strategy
                prepared.plan = fallback

    @staticmethod
    def _fallback_plan(prepared: PreparedChat, fallbacks: list[str]) -> tuple[Plan, Candidate] | None:
        """The plan of the next fallback strategy's cheapest candidate whose worst case fits what the original
        plan reserved, and that candidate."""
        runtime, chosen = prepared.runtime, prepared.decision.chosen
        reserved = chosen.prediction.worst_cost_usd if chosen is not None else float("inf")
        prompt_tokens = estimate_prompt_tokens(prepared.generation.messages)
        while fallbacks:
            name = fallbacks.pop(0)
            predictor = runtime.planner()
            scored = [(predictor.predict(c, prepared.difficulty.difficulty, prompt_tokens), c)
                      for c in runtime.predictor.candidates([name], prepared.generation.max_tokens)]  # fmt: skip
            fitting = [(p.worst_cost_usd, i, c) for i, (p, c) in enumerate(scored) if p.worst_cost_usd <= reserved]
            if fitting:
                candidate = min(fitting)[2]
                return plan_from(candidate, deadline=prepared.plan.deadline, rule="fallback"), candidate
        return None

    @staticmethod
    def _decision_headers(prepared: PreparedChat, usage: Usage, results: list[StrategyResult]) -> None:
        prepared.headers["x-thinkroute-cost-usd"] = f"{usage.cost_usd:.8f}"
        prepared.headers["x-thinkroute-samples"] = str(sum(r.samples for r in results))
        prepared.headers["x-thinkroute-stop-reason"] = results[0].stop_reason
        if any(r.anytime for r in results):  # the deadline cut a search: best so far (streaming: "anytime")
            prepared.headers["x-thinkroute-anytime"] = "true"

    async def stream(self, prepared: PreparedChat) -> AsyncGenerator[str, None]:
        """SSE lines: role chunk, content deltas, a finish chunk, optional usage, ``[DONE]``."""
        strategy = prepared.runtime.strategies[prepared.plan.strategy]
        include_usage = bool(prepared.request.stream_options and prepared.request.stream_options.include_usage)
        yield sse_line(self._chunk(prepared, {"role": "assistant", "content": ""}, None))
        result: StrategyResult | None = None
        outcome = prepared.outcome
        events = strategy.stream(self._context(prepared))
        attributes = _plan_attributes(prepared.plan)
        traced = self.telemetry.traced_stream(prepared.plan.strategy_type, attributes, events)
        async with contextlib.aclosing(traced):  # a closed response stops the strategy at once
            async for event in traced:
                if isinstance(event, StrategyResult):
                    result = event
                elif isinstance(event, Progress):
                    yield f": {event.message}\n\n"
                elif isinstance(event, StreamChunk) and (event.text or event.reasoning):
                    delta: dict[str, Any] = {}
                    if event.reasoning:
                        delta["reasoning_content"] = event.reasoning
                    if event.text:
                        delta["content"] = event.text
                        outcome.note_first_token()
                    yield sse_line(self._chunk(prepared, delta, None))
        assert result is not None, "a strategy stream must end with its result"
        outcome.note_result(result.usage, [result])
        _feedback(prepared, [result])
        finish = FINISH_REASONS.get(result.completion.finish_reason, "stop")
        final = self._chunk(prepared, {}, finish)
        final["thinkroute"] = _decision_json(prepared, result)
        yield sse_line(final)
        if include_usage:
            usage_chunk = self._chunk(prepared, {}, None)
            usage_chunk["choices"] = []
            usage_chunk["usage"] = usage_json(result.usage)
            yield sse_line(usage_chunk)
        yield "data: [DONE]\n\n"

    @staticmethod
    def _chunk(prepared: PreparedChat, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": prepared.completion_id,
            "object": "chat.completion.chunk",
            "created": prepared.created,
            "model": prepared.route_name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }


def _feedback(prepared: PreparedChat, results: list[StrategyResult]) -> None:
    """Online feedback: what a verifier said about each result nudges the profile of the candidate that
    produced it (the fallback's after a fallback, not the one the planner chose)."""
    online, executed = prepared.runtime.online, prepared.candidate
    if online is None or executed is None:
        return
    for result in results:
        quality = observed_quality(result)
        if quality is not None:
            online.observe(executed, prepared.difficulty.difficulty, quality)


def _plan_attributes(plan: Plan) -> dict[str, Any]:
    """The strategy span's attributes: which strategy, with which parameters and limits."""
    return {
        "thinkroute.strategy": plan.strategy,
        "thinkroute.strategy.type": plan.strategy_type,
        "thinkroute.plan.params": json.dumps(dict(plan.params), sort_keys=True, default=str),
        "thinkroute.plan.max_tokens": plan.max_tokens,
        "thinkroute.plan.token_cap": plan.token_cap,
        "thinkroute.decision.rule": plan.rule,
    }


def _decision_json(prepared: PreparedChat, result: StrategyResult) -> dict[str, Any]:
    return {
        "strategy": prepared.plan.strategy,
        "samples": result.samples,
        "stop_reason": result.stop_reason,
        "cost_usd": round(result.usage.cost_usd, 10),
        "anytime": result.anytime,
    }
