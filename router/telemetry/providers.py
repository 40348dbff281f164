"""OpenTelemetry providers from the policy's ``telemetry`` section and the standard OTEL_* variables.

Each :class:`~router.telemetry.Telemetry` owns its providers (never the global ones), so several
apps can live in one process. OTLP export is off unless the policy says ``otlp: true``; the
exporters then read ``OTEL_EXPORTER_OTLP_*`` (endpoint, headers, timeout, protocol ``grpc`` or
``http/protobuf``, the default) themselves; ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``
name the resource.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased

from router import __version__
from router.policy.schema import TelemetryConfig

__all__ = ["build_meter_provider", "build_resource", "build_tracer_provider", "otlp_protocol"]


def build_resource() -> Resource:
    """``service.name=thinkroute`` unless ``OTEL_SERVICE_NAME`` says otherwise, plus the version."""
    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "thinkroute"}))
    return resource


def otlp_protocol(signal: str, environ: Mapping[str, str] | None = None) -> str:
    """``grpc`` or ``http/protobuf`` for ``signal`` (``traces``/``metrics``), per the OTel env spec."""
    env = os.environ if environ is None else environ
    value = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    return "grpc" if (value or "").strip().lower() == "grpc" else "http/protobuf"


def _sampler(config: TelemetryConfig) -> Sampler:
    # Unsampled spans still get trace ids, so logs and propagated traceparents carry one.
    if not config.traces:
        return ALWAYS_OFF
    return ParentBased(TraceIdRatioBased(config.sample_ratio))


def build_tracer_provider(config: TelemetryConfig, span_exporter: SpanExporter | None = None) -> TracerProvider:
    """Spans are recorded when ``traces`` is on (to ``span_exporter`` if given; OTLP if ``otlp``)."""
    provider = TracerProvider(sampler=_sampler(config), resource=build_resource(), shutdown_on_exit=False)
    if span_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    if config.otlp and config.traces:
        provider.add_span_processor(BatchSpanProcessor(_otlp_span_exporter()))
    return provider


def build_meter_provider(config: TelemetryConfig, readers: list[MetricReader]) -> MeterProvider:
    """A meter provider feeding ``readers`` (Prometheus, tests) and, with ``otlp``, an OTLP exporter."""
    all_readers: list[MetricReader] = list(readers)
    if config.otlp:
        all_readers.append(PeriodicExportingMetricReader(_otlp_metric_exporter()))
    return MeterProvider(
        metric_readers=all_readers,
        resource=build_resource(),
        shutdown_on_exit=False,
        exemplar_filter=AlwaysOffExemplarFilter(),
    )


def _otlp_span_exporter() -> Any:
    if otlp_protocol("traces") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter()


def _otlp_metric_exporter() -> Any:
    if otlp_protocol("metrics") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
    return OTLPMetricExporter()
