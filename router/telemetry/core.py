"""``Telemetry``: one app's tracer, metric instruments, Prometheus registry and live dashboard state."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.metrics import Meter, NoOpMeter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Span, Tracer
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from router import __version__
from router.backends.base import Backend
from router.policy.schema import TelemetryConfig
from router.telemetry.attributes import clean_attributes, mark_error
from router.telemetry.dashboard import DashboardState
from router.telemetry.instrument import TracedBackend
from router.telemetry.metrics import Instruments
from router.telemetry.outcome import RequestOutcome
from router.telemetry.providers import build_meter_provider, build_tracer_provider
from router.telemetry.redact import Redactor

__all__ = ["Telemetry"]

T = TypeVar("T")
C = TypeVar("C")
_STAGE_METRICS = {"classify": "thinkroute_classifier_duration", "plan": "thinkroute_planner_duration"}


class Telemetry:
    """Traces, metrics and the dashboard of one router app. Build with :meth:`create` or :meth:`noop`."""

    def __init__(
        self,
        config: TelemetryConfig,
        tracer: Tracer,
        meter: Meter,
        registry: CollectorRegistry,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.config = config
        self.tracer = tracer
        self.registry = registry
        self._in_flight = 0
        self._queue_depths: dict[str, int] = {}
        self._online_snapshot: Callable[[], Mapping[str, Mapping[str, Mapping[str, float]]]] | None = None
        self._backends: Callable[[], Mapping[str, Backend]] | None = None
        gauges = {"thinkroute_requests_in_flight": self._read_in_flight,
                  "thinkroute_backend_queue_depth": self._read_queue_depths,
                  "thinkroute_online_quality_estimate": self._read_online_estimates}  # fmt: skip
        self.instruments = Instruments(meter, gauges)
        self.dashboard = DashboardState()
        self.redact = Redactor.from_env()
        self.record_content = config.record_content
        self.recording = config.traces  # spans can be sampled at all; attributes are skipped otherwise
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider

    @classmethod
    def create(
        cls,
        config: TelemetryConfig | None = None,
        *,
        metric_reader: MetricReader | None = None,
        span_exporter: SpanExporter | None = None,
    ) -> Telemetry:
        """Providers from ``config`` (and OTEL_* variables); tests inject in-memory readers/exporters."""
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        config = config or TelemetryConfig()
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        prometheus = PrometheusMetricReader(disable_target_info=True, scope_info_enabled=False, registry=registry)
        readers: list[MetricReader] = [prometheus] + ([metric_reader] if metric_reader is not None else [])
        meter_provider = build_meter_provider(config, readers)
        tracer_provider = build_tracer_provider(config, span_exporter)
        return cls(
            config,
            tracer_provider.get_tracer("thinkroute", __version__),
            meter_provider.get_meter("thinkroute", __version__),
            registry,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )

    @classmethod
    def noop(cls) -> Telemetry:
        """Records nothing (empty ``/metrics``); for code paths served without an app."""
        return cls(TelemetryConfig(), trace.NoOpTracer(), NoOpMeter("thinkroute"), CollectorRegistry())

    # -- spans ---------------------------------------------------------------------------------

    def clean(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        """Span-safe attributes: no ``None``, strings redacted."""
        return clean_attributes(attributes, self.redact)

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
        """A child span of the current one; an exception marks it failed (redacted, no traceback).

        With traces off no child span is created (it could never be recorded): the current span is
        yielded instead, so the request's trace id still reaches the logs.
        """
        if not self.recording:
            yield trace.get_current_span()
            return
        with self.tracer.start_as_current_span(
            name, attributes=self.clean(attributes), record_exception=False, set_status_on_exception=False
        ) as current:
            try:
                yield current
            except BaseException as exc:
                mark_error(current, exc, self.redact)
                raise

    @contextmanager
    def stage(self, name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
        """A pipeline step's span (``classify``, ``plan``, ``reserve``, the strategy, ``settle``).

        ``classify`` and ``plan`` also feed the classifier and planner latency histograms.
        """
        started = time.perf_counter()
        with self.span(name, attributes) as current:
            yield current
        metric = _STAGE_METRICS.get(name)
        if metric is not None:
            self.instruments.observe(metric, time.perf_counter() - started)

    async def traced_stream(
        self, name: str, attributes: Mapping[str, Any] | None, events: AsyncIterator[T]
    ) -> AsyncGenerator[T, None]:
        """Iterate ``events`` inside a span that is current only while the producer runs.

        Safe across ``yield``: the span's context is attached and detached around each step, so a
        client that disconnects mid-stream cannot leave a foreign context behind.
        """
        aclose = getattr(events, "aclose", None)
        if not self.recording:
            try:
                async for event in events:
                    yield event
            finally:  # closed with us, not when garbage-collected
                if aclose is not None:
                    await aclose()
            return
        current = self.tracer.start_span(name, attributes=self.clean(attributes))
        try:
            while True:
                with trace.use_span(current, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                yield event
        except BaseException as exc:
            mark_error(current, exc, self.redact)
            raise
        finally:
            current.end()
            if aclose is not None:
                await aclose()

    def instrument_backend(self, backend: Backend) -> Backend:
        """``backend`` with a span per call and a child span per sample."""
        if isinstance(backend, TracedBackend):
            return backend
        return TracedBackend(backend, self)

    def instrument_context(self, ctx: C) -> C:
        """Trace the backends of a :class:`router.strategies.StrategyContext` (in place); returns it."""
        target: Any = ctx
        target.backend = self.instrument_backend(target.backend)
        target.backends = {name: self.instrument_backend(b) for name, b in target.backends.items()}
        return ctx

    # -- metrics -------------------------------------------------------------------------------

    def record_request(self, outcome: RequestOutcome) -> None:
        """Metrics and dashboard state for one finished chat request."""
        from router.telemetry.recording import record_outcome

        record_outcome(self.instruments, outcome)
        self.dashboard.add(outcome)

    def record_budget_rejection(self, tenant: str | None, reason: str) -> None:
        """A request refused by budgets; ``reason`` is the error code: ``budget_exceeded`` (402),
        ``rate_limit_exceeded`` (429) or ``service_unavailable`` (503, the store is down under fail_closed)."""
        self.instruments.add("thinkroute_budget_rejections", 1, {"tenant": tenant or "anonymous", "reason": reason})

    def record_budget_event(self, event: str, n: int = 1) -> None:
        """A budget store event (``BudgetService.listener``): ``store_errors``, ``fail_open``, ``fail_closed``,
        ``queued_settlements``, ``retried_settlements``, ``reconciled``, ...; ``n`` at once."""
        if n:
            self.instruments.add("thinkroute_budget_store_events", n, {"event": event})

    def record_upstream(self, backend: str, outcome: str, status: int | str | None = None) -> None:
        """An upstream call that failed (``error``), was retried (``retry``) or fell back (``fallback``)."""
        labels = {"backend": backend, "outcome": outcome, "status": str(status) if status is not None else "none"}
        self.instruments.add("thinkroute_upstream_events", 1, labels)

    def record_classifier_latency(self, seconds: float) -> None:
        self.instruments.observe("thinkroute_classifier_duration", seconds)

    def record_planner_latency(self, seconds: float) -> None:
        self.instruments.observe("thinkroute_planner_duration", seconds)

    def set_queue_depth(self, backend: str, depth: int) -> None:
        """Report a backend's queue depth (backends watched by :meth:`watch_backends` are read directly)."""
        self._queue_depths[backend] = depth

    def record_batch_size(self, backend: str, size: int) -> None:
        self.instruments.observe("thinkroute_backend_batch_size", size, {"backend": backend})

    def in_flight(self, delta: int) -> None:
        """A chat request started (+1) or finished (-1)."""
        self._in_flight += delta

    def watch_online_feedback(self, snapshot: Callable[[], Mapping[str, Mapping[str, Mapping[str, float]]]]) -> None:
        """Read online-feedback estimates (``{candidate: {bucket: {"estimate": q}}}``) at each collection."""
        self._online_snapshot = snapshot

    def _read_online_estimates(self) -> list[tuple[float, Mapping[str, str]]]:
        snapshot = self._online_snapshot() if self._online_snapshot is not None else {}
        return [(float(entry["estimate"]), {"candidate": candidate, "bucket": bucket})
                for candidate, buckets in snapshot.items() for bucket, entry in buckets.items()]  # fmt: skip

    def watch_backends(self, backends: Callable[[], Mapping[str, Backend]]) -> None:
        """Read ``queue_depth`` of these backends (those that have one) whenever metrics are collected."""
        self._backends = backends

    def _read_in_flight(self) -> list[tuple[float, Mapping[str, str]]]:
        return [(self._in_flight, {})]

    def _read_queue_depths(self) -> list[tuple[float, Mapping[str, str]]]:
        depths = dict(self._queue_depths)
        for name, backend in (self._backends() if self._backends is not None else {}).items():
            depth = getattr(backend, "queue_depth", None)
            if isinstance(depth, int):
                depths[name] = depth
        return [(depth, {"backend": name}) for name, depth in depths.items()]

    # -- exposition ----------------------------------------------------------------------------

    def prometheus_text(self) -> bytes:
        """The Prometheus text exposition (format 0.0.4) of every thinkroute metric."""
        return generate_latest(self.registry)

    def dashboard_data(self) -> dict[str, Any]:
        """The JSON behind ``GET /dashboard``."""
        return self.dashboard.snapshot()

    def force_flush(self) -> None:
        if self._tracer_provider is not None:
            self._tracer_provider.force_flush()
        if self._meter_provider is not None:
            self._meter_provider.force_flush()

    def shutdown(self) -> None:
        """Flush and stop exporters; unregisters the Prometheus collector."""
        if self._tracer_provider is not None:
            self._tracer_provider.shutdown()
        if self._meter_provider is not None:
            self._meter_provider.shutdown()
