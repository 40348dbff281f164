"""Turn one finished request's :class:`RequestOutcome` into metric updates (names in docs/metrics.md)."""

from __future__ import annotations

from router.telemetry.metrics import Instruments
from router.telemetry.outcome import RequestOutcome

__all__ = ["UNKNOWN", "record_outcome"]

UNKNOWN = "none"


def record_outcome(instruments: Instruments, outcome: RequestOutcome) -> None:
    """Counters and histograms for one chat request, decided or not, successful or not."""
    route = outcome.route or UNKNOWN
    rs = {"route": route, "strategy": outcome.strategy or UNKNOWN}
    instruments.add("thinkroute_requests", 1, {**rs, "status": str(outcome.status_code)})
    failed = outcome.status_code >= 400 or outcome.error_type is not None
    if failed:
        error_type = outcome.error_type or f"http_{outcome.status_code}"
        instruments.add("thinkroute_request_errors", 1, {"route": route, "error_type": error_type})
    if outcome.strategy is not None:
        labels = {**rs, "bucket": outcome.bucket or UNKNOWN, "rule": outcome.rule or UNKNOWN}
        instruments.add("thinkroute_decisions", 1, labels)
    _record_usage(instruments, outcome, rs)
    if failed:
        return
    instruments.observe("thinkroute_request_duration", outcome.latency_s, rs)
    if outcome.ttft_s is not None:
        instruments.observe("thinkroute_time_to_first_token", outcome.ttft_s, rs)
    if outcome.slo_latency_ms:
        instruments.observe("thinkroute_latency_slo_ratio", outcome.latency_s * 1000.0 / outcome.slo_latency_ms, rs)
        instruments.add("thinkroute_slo_requests", 1, {**rs, "met": "true" if outcome.deadline_met else "false"})
    if outcome.samples:
        instruments.observe("thinkroute_samples_per_request", outcome.samples, rs)
        instruments.add("thinkroute_samples_saved", outcome.samples_saved, rs)
    if outcome.stop_reason is not None:
        instruments.add("thinkroute_stop_reasons", 1, {**rs, "reason": outcome.stop_reason})


def _record_usage(instruments: Instruments, outcome: RequestOutcome, rs: dict[str, str]) -> None:
    if not (outcome.prompt_tokens or outcome.completion_tokens or outcome.cost_usd):
        return
    tenant = {"tenant": outcome.tenant_label, **rs}
    visible = max(0, outcome.completion_tokens - outcome.reasoning_tokens)
    for kind, count in (("input", outcome.prompt_tokens), ("output", visible), ("reasoning", outcome.reasoning_tokens)):
        if count:
            instruments.add("thinkroute_tokens", count, {**tenant, "type": kind})
    instruments.add("thinkroute_cost_usd", outcome.cost_usd, tenant)
