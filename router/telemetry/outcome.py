"""What one chat request decided, spent and returned: filled in while it is served, recorded at its end."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.backends.base import Usage
    from router.difficulty import DifficultyEstimate
    from router.planner import Decision
    from router.strategies import Plan, StrategyResult

__all__ = ["ANONYMOUS_TENANT", "RequestOutcome"]

ANONYMOUS_TENANT = "anonymous"


@dataclass
class RequestOutcome:
    """One request's decision and result, as telemetry sees it (no prompt text, no keys).

    The HTTP middleware creates it (request id, timing, status); serving fills in the decision
    (:meth:`note_decision`), the result (:meth:`note_result`) and what it spent (:meth:`note_spend`).
    """

    request_id: str = ""
    route: str | None = None
    tenant: str | None = None
    strategy: str | None = None
    strategy_type: str | None = None
    status_code: int = 0
    difficulty: float | None = None
    bucket: str | None = None
    rule: str | None = None
    candidates_considered: int = 0
    samples: int = 0
    samples_max: int = 0
    stop_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    ttft_s: float | None = None
    slo_latency_ms: float | None = None
    slo_max_cost_usd: float | None = None
    slo_min_quality: float | None = None
    deadline_met: bool | None = None
    error_type: str | None = None
    stream: bool = False
    fallback_from: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)
    decision: Decision | None = field(default=None, repr=False)  # explained lazily, see explain()
    started_at: float = field(default_factory=time.time)  # wall clock (epoch seconds) at arrival
    clock_start: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def tenant_label(self) -> str:
        return self.tenant or ANONYMOUS_TENANT

    def explain(self) -> dict[str, Any]:
        """The planner's explanation: every candidate, the choice and why (``{}`` if none was made)."""
        if not self.explanation and self.decision is not None:
            self.explanation = self.decision.to_json()
        return self.explanation

    @property
    def samples_saved(self) -> int:
        """Samples the plan allowed but early stopping did not draw."""
        return max(0, self.samples_max - self.samples)

    def note_route(self, route: str, tenant: str | None) -> None:
        """The request named an existing route (set before planning, so refused plans keep it)."""
        self.route, self.tenant = route, tenant

    def note_decision(
        self,
        route: str,
        tenant: str | None,
        decision: Decision,
        difficulty: DifficultyEstimate,
        plan: Plan,
        *,
        stream: bool = False,
    ) -> None:
        """Record the routing decision: route, difficulty, strategy, the planner's rule and SLO."""
        self.route, self.tenant, self.stream = route, tenant, stream
        self.strategy, self.strategy_type = plan.strategy, plan.strategy_type
        self.difficulty, self.bucket = difficulty.difficulty, difficulty.bucket
        self.rule = decision.rule
        self.candidates_considered = len(decision.assessments)
        slo = decision.slo
        self.slo_latency_ms, self.slo_max_cost_usd, self.slo_min_quality = (
            slo.latency_ms, slo.max_cost_usd, slo.min_quality
        )  # fmt: skip
        self.samples_max = _planned_samples(plan)
        self.decision = decision

    def note_result(self, usage: Usage, results: list[StrategyResult]) -> None:
        """Record what the strategy runs consumed (all samples and verifier calls) and why they stopped."""
        self.prompt_tokens, self.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        self.reasoning_tokens, self.cost_usd = usage.reasoning_tokens, usage.cost_usd
        self.samples = sum(r.samples for r in results)
        planned = sum(int(r.details.get("n_max", 0) or 0) for r in results)
        self.samples_max = max(planned or self.samples_max * len(results), self.samples)
        self.stop_reason = results[0].stop_reason if results else None

    def note_spend(self, usage: Usage) -> None:
        """Record what the request spent in all (every call, also failed ones and fallbacks); a no-op when
        nothing was metered. Called at the end of every request, successful or not, after :meth:`note_result`."""
        if not (usage.prompt_tokens or usage.completion_tokens or usage.cost_usd):
            return
        self.prompt_tokens, self.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        self.reasoning_tokens, self.cost_usd = usage.reasoning_tokens, usage.cost_usd

    def note_fallback(self, failed: str, fallback: str) -> None:
        """The chosen strategy's backends failed and the route's fallback strategy runs instead."""
        self.fallback_from = self.fallback_from or failed
        self.strategy = fallback

    def note_first_token(self) -> None:
        """Mark the first content token of a streamed answer (the first call wins)."""
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self.clock_start

    def finish(self, status_code: int) -> None:
        """Close the record: HTTP status, end-to-end latency and whether the latency SLO held."""
        self.status_code, self.latency_s = status_code, time.perf_counter() - self.clock_start
        if self.slo_latency_ms is not None and status_code < 400:
            self.deadline_met = self.latency_s * 1000.0 <= self.slo_latency_ms


def _planned_samples(plan: Plan) -> int:
    """The most samples the plan allows (``n`` of sampling strategies; 1 otherwise)."""
    value = plan.params.get("n")
    return value if isinstance(value, int) and value > 0 else 1
