"""Shared observability core: every service gets its traces, metrics, logs and health from here.

Services call :func:`setup_telemetry` once in their composition root and add
:class:`ObservabilityMiddleware`; nothing else in a service needs to know how
telemetry is exported.
"""

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
    "Telemetry",
    "build_health_router",
    "mark_failure",
    "metrics_endpoint",
    "note_exception",
    "note_problem",
    "setup_telemetry",
]
