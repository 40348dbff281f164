"""The metric names are a contract: code, docs/metrics.md, /metrics and the Grafana dashboard agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import router.telemetry
from router.telemetry import METRICS, RequestOutcome, Telemetry

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "metrics.md"
GRAFANA = REPO / "helm" / "thinkroute" / "dashboards" / "thinkroute.json"
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def test_public_surface_is_pinned() -> None:
    assert sorted(router.telemetry.__all__) == sorted([
        "METRICS", "JsonFormatter", "MetricSpec", "RedactionFilter", "Redactor", "RequestOutcome", "Telemetry",
        "TelemetryMiddleware", "TracedBackend", "configure_logging", "current_outcome", "current_telemetry",
        "log_request", "redact", "span", "traced_verifier",
    ])  # fmt: skip
    for name in router.telemetry.__all__:
        assert getattr(router.telemetry, name) is not None


def _exercised() -> str:
    telemetry = Telemetry.create()
    try:
        telemetry.record_request(RequestOutcome(
            request_id="r", route="auto", strategy="vote", strategy_type="best_of_n", status_code=200, bucket="hard",
            rule="cheapest_meeting_quality", samples=4, samples_max=8, stop_reason="beta", prompt_tokens=10,
            completion_tokens=20, reasoning_tokens=5, cost_usd=0.5, latency_s=0.2, ttft_s=0.1, slo_latency_ms=500,
            deadline_met=True,
        ))  # fmt: skip
        telemetry.record_request(RequestOutcome(request_id="e", status_code=404, error_type="model_not_found"))
        telemetry.record_budget_rejection("acme", "budget")
        telemetry.record_budget_event("fail_open")
        telemetry.record_upstream("local", "retry", 503)
        telemetry.record_classifier_latency(0.002)
        telemetry.record_planner_latency(0.00003)
        telemetry.set_queue_depth("local", 2)
        telemetry.record_batch_size("local", 8)
        telemetry.in_flight(0)
        telemetry.watch_online_feedback(lambda: {"vote[n=4]": {"hard": {"estimate": 0.8, "prior": 0.9}}})
        return telemetry.prometheus_text().decode()
    finally:
        telemetry.shutdown()


def test_every_catalogued_metric_is_exported_with_its_labels() -> None:
    families = {f.name: f for f in text_string_to_metric_families(_exercised())}
    for spec in METRICS:
        family_name = spec.exposed.removesuffix("_total")
        assert family_name in families, spec.exposed
        family = families[family_name]
        assert family.type == spec.kind
        labels = {k for s in family.samples for k in s.labels} - {"le"}
        assert labels == set(spec.labels), spec.exposed
    exported = {n for n in families if n.startswith("thinkroute_")}
    assert exported == {s.exposed.removesuffix("_total") for s in METRICS}


def test_docs_list_every_metric_with_type_and_labels() -> None:
    text = DOCS.read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(thinkroute_\w+)` \|.*$", text, re.M)}
    assert set(rows) == {s.exposed for s in METRICS}
    for spec in METRICS:
        row = rows[spec.exposed]
        assert f"| {spec.kind} |" in row
        for label in spec.labels:
            assert f"`{label}`" in row, (spec.exposed, label)


def _queries(node: Any) -> list[str]:
    """Every PromQL expression of a Grafana dashboard: panel targets and query variables."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                found.append(value)
            elif key == "query" and isinstance(value, dict) and isinstance(value.get("query"), str):
                found.append(value["query"])
            else:
                found.extend(_queries(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_queries(item))
    return found


def _balanced(expr: str) -> bool:
    depth = {"(": 0, "{": 0, "[": 0}
    closing = {")": "(", "}": "{", "]": "["}
    for char in expr:
        if char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            if depth[closing[char]] < 0:
                return False
    return not any(depth.values())


def test_grafana_dashboard_queries_only_exported_metrics_and_covers_the_story() -> None:
    dashboard = json.loads(GRAFANA.read_text())
    queries = _queries(dashboard)
    assert len(queries) >= 20
    exposed = {s.exposed for s in METRICS}
    histograms = {s.exposed for s in METRICS if s.kind == "histogram"}
    used: set[str] = set()
    for expr in queries:
        assert _balanced(expr), expr
        names = re.findall(r"\bthinkroute_[a-z_]+", expr)
        assert names, f"query references no thinkroute metric: {expr}"
        for name in names:
            base = next((name.removesuffix(s) for s in _HISTOGRAM_SUFFIXES if name.removesuffix(s) in histograms), name)
            assert base in exposed, f"{name} in {expr!r} is not exported"
            if name.endswith("_bucket"):
                assert "histogram_quantile" in expr and "le" in expr
            used.add(base)
    titles = " ".join(p.get("title", "") for p in dashboard["panels"]).lower()
    for topic in ("routing mix", "cost per route", "cost per tenant", "slo", "reasoning", "saved", "error"):
        assert topic in titles, topic
    assert {"thinkroute_decisions_total", "thinkroute_cost_usd_total", "thinkroute_tokens_total",
            "thinkroute_samples_saved_total", "thinkroute_request_errors_total",
            "thinkroute_latency_slo_ratio"} <= used  # fmt: skip
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"]
