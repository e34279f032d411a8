"""Shared observability core: every service gets its traces, metrics, logs and health from here.

Services call :func:`setup_telemetry` once in their composition root and add
:class:`ObservabilityMiddleware`; nothing else in a service needs to know how
telemetry is exported.

Only this package imports the OpenTelemetry SDK (a ruff rule holds the rest of the code to it):
the type a composition root needs from it, the span exporter a test passes in, is named here.
"""

from opentelemetry.sdk.trace.export import SpanExporter

from minishop.observability.health import HealthCheck, build_health_router
from minishop.observability.metrics import ServiceMetrics, metrics_endpoint
from minishop.observability.middleware import (
    ObservabilityMiddleware,
    mark_failure,
    note_exception,
    note_problem,
)
from minishop.observability.telemetry import Telemetry, setup_telemetry

__all__ = [
    "HealthCheck",
    "ObservabilityMiddleware",
    "ServiceMetrics",
    "SpanExporter",
    "Telemetry",
    "build_health_router",
    "mark_failure",
    "metrics_endpoint",
    "note_exception",
    "note_problem",
    "setup_telemetry",
]
