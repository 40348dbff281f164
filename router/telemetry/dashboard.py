"""Live state behind ``GET /dashboard/data``: totals since start, a latency window, recent decisions.

Memory is bounded: the latency window and the list of recent decisions are rings; totals are
keyed by route/strategy/tenant/bucket names, which come from the policy.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from typing import Any

from router.telemetry.outcome import RequestOutcome

__all__ = ["DashboardState", "percentile"]


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (``q`` in [0, 100])."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), math.ceil(q / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


class DashboardState:
    """Aggregates finished requests for the built-in dashboard."""

    def __init__(self, recent: int = 50, window: int = 500) -> None:
        self.started = time.time()
        self._recent: deque[tuple[dict[str, Any], RequestOutcome]] = deque(maxlen=recent)
        self._latency: deque[tuple[float, float, str]] = deque(maxlen=window)
        self._mix: Counter[str] = Counter()
        self._mix_by_bucket: dict[str, Counter[str]] = {}
        self._stops: Counter[str] = Counter()
        self._spend: dict[str, list[float]] = {}
        self._totals: Counter[str] = Counter()

    def add(self, outcome: RequestOutcome) -> None:
        """Account one finished chat request."""
        totals = self._totals
        totals["requests"] += 1
        failed = outcome.status_code >= 400 or outcome.error_type is not None
        totals["errors"] += int(failed)
        totals["input_tokens"] += outcome.prompt_tokens
        totals["output_tokens"] += max(0, outcome.completion_tokens - outcome.reasoning_tokens)
        totals["reasoning_tokens"] += outcome.reasoning_tokens
        spend = self._spend.setdefault(outcome.tenant_label, [0.0, 0.0])
        spend[0] += outcome.cost_usd
        spend[1] += 1
        if outcome.strategy is not None:
            self._mix[outcome.strategy] += 1
            self._mix_by_bucket.setdefault(outcome.bucket or "none", Counter())[outcome.strategy] += 1
        if not failed:
            totals["samples"] += outcome.samples
            totals["samples_saved"] += outcome.samples_saved
            if outcome.stop_reason:
                self._stops[outcome.stop_reason] += 1
            self._latency.append((time.time(), outcome.latency_s * 1000.0, outcome.strategy or "none"))
        self._recent.appendleft((_recent_entry(outcome), outcome))  # explained when a snapshot asks

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: totals, routing mix, spend by tenant, latency percentiles, recent decisions."""
        latencies = sorted(ms for _, ms, _ in self._latency)
        cost = sum(s[0] for s in self._spend.values())
        return {
            "generated_at": time.time(),
            "uptime_s": round(time.time() - self.started, 3),
            "totals": {**{k: self._totals.get(k, 0) for k in _TOTALS}, "cost_usd": round(cost, 10)},
            "routing_mix": [{"strategy": s, "requests": n} for s, n in self._mix.most_common()],
            "routing_by_bucket": {b: dict(c) for b, c in sorted(self._mix_by_bucket.items())},
            "stop_reasons": dict(self._stops.most_common()),
            "spend_by_tenant": [
                {"tenant": t, "cost_usd": round(s[0], 10), "requests": int(s[1])}
                for t, s in sorted(self._spend.items(), key=lambda item: -item[1][0])
            ],
            "latency_ms": {
                "count": len(latencies),
                **{f"p{q}": _round(percentile(latencies, q)) for q in (50, 90, 95, 99)},
                "recent": [[round(t, 3), round(ms, 3), s] for t, ms, s in list(self._latency)[-200:]],
            },
            "recent": [{**entry, "explanation": outcome.explain()} for entry, outcome in self._recent],
        }


_TOTALS = ("requests", "errors", "input_tokens", "output_tokens", "reasoning_tokens", "samples", "samples_saved")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _recent_entry(outcome: RequestOutcome) -> dict[str, Any]:
    return {
        "request_id": outcome.request_id,
        "time": outcome.started_at,
        "route": outcome.route,
        "tenant": outcome.tenant_label,
        "status": outcome.status_code,
        "error_type": outcome.error_type,
        "strategy": outcome.strategy,
        "difficulty": None if outcome.difficulty is None else round(outcome.difficulty, 4),
        "bucket": outcome.bucket,
        "rule": outcome.rule,
        "samples": outcome.samples,
        "samples_max": outcome.samples_max,
        "stop_reason": outcome.stop_reason,
        "latency_ms": round(outcome.latency_s * 1000.0, 3),
        "cost_usd": round(outcome.cost_usd, 10),
        "tokens": {
            "input": outcome.prompt_tokens,
            "output": max(0, outcome.completion_tokens - outcome.reasoning_tokens),
            "reasoning": outcome.reasoning_tokens,
        },
        "deadline_met": outcome.deadline_met,
    }
