"""The dashboard's state: nearest-rank percentiles, bounded memory, savings and spend accounting."""

from __future__ import annotations

import pytest

from router.telemetry import RequestOutcome
from router.telemetry.dashboard import DashboardState, percentile


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 95) == 95 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


def test_state_is_bounded_and_accounts_spend_savings_and_errors() -> None:
    state = DashboardState(recent=3, window=5)
    for i in range(10):
        state.add(RequestOutcome(
            request_id=f"r{i}", route="auto", tenant="acme" if i % 2 else None, strategy="vote", bucket="hard",
            status_code=200, samples=4, samples_max=8, stop_reason="beta", cost_usd=0.25, latency_s=(i + 1) / 10,
            completion_tokens=10, reasoning_tokens=4,
        ))  # fmt: skip
    state.add(RequestOutcome(request_id="bad", route="auto", status_code=502, error_type="upstream_error"))
    data = state.snapshot()
    assert [r["request_id"] for r in data["recent"]] == ["bad", "r9", "r8"]
    assert data["latency_ms"]["count"] == 5 and data["latency_ms"]["p50"] == pytest.approx(800.0)
    assert data["totals"] == {
        "requests": 11, "errors": 1, "input_tokens": 0, "output_tokens": 60, "reasoning_tokens": 40,
        "samples": 40, "samples_saved": 40, "cost_usd": pytest.approx(2.5),
    }  # fmt: skip
    spend = {t["tenant"]: (t["cost_usd"], t["requests"]) for t in data["spend_by_tenant"]}
    assert spend == {"acme": (pytest.approx(1.25), 5), "anonymous": (pytest.approx(1.25), 6)}
    assert data["routing_mix"] == [{"strategy": "vote", "requests": 10}]
    assert data["stop_reasons"] == {"beta": 10}
