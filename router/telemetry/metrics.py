"""The metric catalogue (a stable contract, documented in docs/metrics.md) and its OTel instruments.

Every instrument is created from :data:`METRICS`; ``MetricSpec.exposed`` is the name Prometheus
sees (the OTel name plus the unit suffix, plus ``_total`` for counters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["METRICS", "GaugeCallback", "Instruments", "MetricSpec"]

Kind = Literal["counter", "histogram", "gauge"]
# A gauge is observed when metrics are collected (a scrape, an OTLP export): its callback returns
# (value, labels) pairs.
GaugeCallback = Callable[[], Iterable[tuple[float, Mapping[str, str]]]]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
_FAST_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1)
_COUNT_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)
_RATIO_BUCKETS = (0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2, 4)
_UNIT_SUFFIX = {"s": "_seconds"}


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its OTel instrument and its Prometheus exposition."""

    name: str
    kind: Kind
    unit: str
    labels: tuple[str, ...]
    description: str
    buckets: tuple[float, ...] | None = None

    @property
    def exposed(self) -> str:
        """The Prometheus family name (histograms add ``_bucket``/``_sum``/``_count`` samples)."""
        base = self.name + _UNIT_SUFFIX.get(self.unit, "")
        return base + "_total" if self.kind == "counter" else base


def _spec(name: str, kind: Kind, unit: str, labels: Sequence[str], description: str,
          buckets: tuple[float, ...] | None = None) -> MetricSpec:  # fmt: skip
    return MetricSpec(name, kind, unit, tuple(labels), description, buckets)


_RS = ("route", "strategy")
METRICS: tuple[MetricSpec, ...] = (
    _spec("thinkroute_requests", "counter", "{request}", (*_RS, "status"),
          "Chat requests by route, strategy and HTTP status."),
    _spec("thinkroute_request_errors", "counter", "{request}", ("route", "error_type"),
          "Failed chat requests by error type."),
    _spec("thinkroute_requests_in_flight", "gauge", "{request}", (), "Chat requests being served now."),
    _spec("thinkroute_decisions", "counter", "{decision}", (*_RS, "bucket", "rule"),
          "Routing decisions by difficulty bucket and planner rule."),
    _spec("thinkroute_request_duration", "histogram", "s", _RS, "End-to-end latency of successful chat requests.",
          _LATENCY_BUCKETS),
    _spec("thinkroute_time_to_first_token", "histogram", "s", _RS, "Time to the first content token (streams).",
          _LATENCY_BUCKETS),
    _spec("thinkroute_latency_slo_ratio", "histogram", "1", _RS, "Latency divided by the request's latency SLO.",
          _RATIO_BUCKETS),
    _spec("thinkroute_slo_requests", "counter", "{request}", (*_RS, "met"),
          "Requests that had a latency SLO, by whether it was met."),
    _spec("thinkroute_tokens", "counter", "{token}", ("tenant", *_RS, "type"),
          "Tokens consumed (all samples and verifier calls): input, output (visible) and reasoning."),
    _spec("thinkroute_cost_usd", "counter", "{USD}", ("tenant", *_RS), "Spend in US dollars."),
    _spec("thinkroute_samples_per_request", "histogram", "{sample}", _RS, "Samples drawn per request.",
          _COUNT_BUCKETS),
    _spec("thinkroute_samples_saved", "counter", "{sample}", _RS,
          "Samples the plan allowed but early stopping did not draw."),
    _spec("thinkroute_stop_reasons", "counter", "{request}", (*_RS, "reason"), "Why strategies stopped sampling."),
    _spec("thinkroute_budget_rejections", "counter", "{request}", ("tenant", "reason"), "Requests refused by budgets."),
    _spec("thinkroute_budget_store_events", "counter", "{event}", ("event",),
          "Budget store outage events: store errors, fail_open/fail_closed requests, queued and retried settlements."),
    _spec("thinkroute_upstream_events", "counter", "{event}", ("backend", "outcome", "status"),
          "Upstream model calls that failed, were retried or fell back."),
    _spec("thinkroute_classifier_duration", "histogram", "s", (), "Difficulty classifier latency.", _FAST_BUCKETS),
    _spec("thinkroute_planner_duration", "histogram", "s", (), "SLO planner decision latency.", _FAST_BUCKETS),
    _spec("thinkroute_backend_queue_depth", "gauge", "{request}", ("backend",), "Requests waiting in a local backend."),
    _spec("thinkroute_online_quality_estimate", "gauge", "1", ("candidate", "bucket"),
          "Online-feedback estimate of P(acceptable answer) per candidate and difficulty bucket."),
    _spec("thinkroute_backend_batch_size", "histogram", "{sequence}", ("backend",),
          "Sequences per local backend batch.", _COUNT_BUCKETS),
)  # fmt: skip


class Instruments:
    """The OTel instruments of :data:`METRICS`, by name; ``add``/``observe`` take label dicts.

    Gauges are observable: ``gauges`` maps each gauge's name to the callback that reads it.
    """

    def __init__(self, meter: Meter, gauges: Mapping[str, GaugeCallback]) -> None:
        self._by_name: dict[str, Any] = {}
        for spec in METRICS:
            if spec.kind == "counter":
                inst: Any = meter.create_counter(spec.name, spec.unit, spec.description)
            elif spec.kind == "gauge":
                inst = meter.create_observable_gauge(
                    spec.name, [_observer(gauges[spec.name])], spec.unit, spec.description
                )
            else:
                inst = meter.create_histogram(
                    spec.name, spec.unit, spec.description, explicit_bucket_boundaries_advisory=spec.buckets
                )
            self._by_name[spec.name] = inst

    def add(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Add to a counter."""
        self._by_name[name].add(value, labels)

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Record a histogram observation."""
        self._by_name[name].record(value, labels)


def _observer(read: GaugeCallback) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(value, dict(labels)) for value, labels in read()]

    return observe
