"""Observability: OpenTelemetry traces and metrics, Prometheus exposition, JSON logs, live dashboard.

The app builds one :class:`Telemetry` from the policy's ``telemetry`` section and keeps it on
``app.state.telemetry``; :class:`TelemetryMiddleware` opens the ``thinkroute.request`` span and
records each chat request's :class:`RequestOutcome`. Code deep in a request (strategies,
verifiers) opens child spans with :func:`span`. Metric names are listed in :data:`METRICS`
and documented in docs/metrics.md.
"""

from router.telemetry.asgi import TelemetryMiddleware
from router.telemetry.context import current_outcome, current_telemetry, span
from router.telemetry.core import Telemetry
from router.telemetry.instrument import TracedBackend, traced_verifier
from router.telemetry.logs import JsonFormatter, RedactionFilter, configure_logging, log_request
from router.telemetry.metrics import METRICS, MetricSpec
from router.telemetry.outcome import RequestOutcome
from router.telemetry.redact import Redactor, redact

__all__ = [
    "METRICS",
    "JsonFormatter",
    "MetricSpec",
    "RedactionFilter",
    "Redactor",
    "RequestOutcome",
    "Telemetry",
    "TelemetryMiddleware",
    "TracedBackend",
    "configure_logging",
    "current_outcome",
    "current_telemetry",
    "log_request",
    "redact",
    "span",
    "traced_verifier",
]
