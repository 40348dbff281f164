"""OTLP export is off by default and, when on, follows the standard OTEL_EXPORTER_OTLP_* variables."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from router.policy.schema import TelemetryConfig
from router.telemetry import Telemetry
from router.telemetry.providers import otlp_protocol


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A loopback OTLP/HTTP endpoint that records what it receives."""
    received: list[tuple[str, bytes]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_spans_and_metrics_are_exported_over_otlp_http_when_enabled(
    collector: tuple[str, list[tuple[str, bytes]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "thinkroute-test")
    telemetry = Telemetry.create(TelemetryConfig(traces=True, otlp=True))
    with telemetry.span("thinkroute.request", {"thinkroute.route": "auto"}), telemetry.span("classify"):
        telemetry.record_planner_latency(0.001)
    telemetry.shutdown()  # flushes the batch span processor and the periodic metric reader

    traces = [ExportTraceServiceRequest.FromString(body) for path, body in received if path == "/v1/traces"]
    names = {s.name for t in traces for rs in t.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert names == {"thinkroute.request", "classify"}
    service = {a.value.string_value for t in traces for rs in t.resource_spans for a in rs.resource.attributes
               if a.key == "service.name"}  # fmt: skip
    assert service == {"thinkroute-test"}
    metrics = [ExportMetricsServiceRequest.FromString(body) for path, body in received if path == "/v1/metrics"]
    exported = {m.name for r in metrics for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "thinkroute_planner_duration" in exported


def test_nothing_is_exported_by_default(
    collector: tuple[str, list[tuple[str, bytes]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    telemetry = Telemetry.create(TelemetryConfig(traces=True))
    with telemetry.span("thinkroute.request"):
        telemetry.record_planner_latency(0.001)
    telemetry.shutdown()
    assert received == []


def test_protocol_follows_the_standard_variables() -> None:
    assert otlp_protocol("traces", {}) == "http/protobuf"
    assert otlp_protocol("traces", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) == "grpc"
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"}
    assert otlp_protocol("metrics", env) == "http/protobuf" and otlp_protocol("traces", env) == "grpc"
