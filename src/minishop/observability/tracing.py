"""Tracer provider per service, exporting over OTLP/HTTP when an endpoint is configured.

Standard OpenTelemetry variables keep their meaning: ``OTEL_SDK_DISABLED``,
``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` / ``_HEADERS`` / ``_TIMEOUT``,
``OTEL_TRACES_SAMPLER(_ARG)``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*``.
Without an endpoint, spans still exist (their ids correlate logs and exemplars)
but nothing is exported.

With an endpoint, spans are encoded and sent by an exporter process of the service's own
(``worker_export``), off the GIL that serves requests. ``MINISHOP_OTEL_EXPORT_PROCESS=off``
exports from a thread of the service instead (``export.BoundedExportProcessor``), as does a
span exporter passed in (tests) and an OTLP credential provider (an SDK plug-in the worker,
which does not load the SDK, cannot run).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from minishop.observability.baggage import BaggageSpanProcessor
from minishop.observability.export import BoundedExportProcessor
from minishop.observability.metrics import ServiceMetrics

if TYPE_CHECKING:
    from minishop.observability.worker_export import WorkerExportProcessor

NAMESPACE = "minishop"
TRACER_NAME = "minishop"


def tracing_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def otlp_endpoint_configured() -> bool:
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


EXPORT_PROCESS_VARIABLE = "MINISHOP_OTEL_EXPORT_PROCESS"
_CREDENTIAL_PROVIDERS = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)


def export_process_enabled() -> bool:
    value = os.environ.get(EXPORT_PROCESS_VARIABLE, "on").strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{EXPORT_PROCESS_VARIABLE} must be 'on' or 'off', got {value!r}")
    return value == "on" and not any(os.environ.get(name) for name in _CREDENTIAL_PROVIDERS)


def build_resource(service: str, version: str, environment: str) -> Resource:
    """CONTRACT §2 resource; these attributes win over ``OTEL_RESOURCE_ATTRIBUTES``."""
    return Resource.create(
        {
            "service.name": service,
            "service.namespace": NAMESPACE,
            "service.version": version,
            "deployment.environment": environment,
            "deployment.environment.name": environment,
        }
    )


def build_tracer_provider(
    service: str,
    version: str,
    environment: str,
    metrics: ServiceMetrics,
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """The service's provider, or ``None`` when the SDK is disabled by configuration."""
    if tracing_disabled():
        return None
    provider = TracerProvider(resource=build_resource(service, version, environment))
    provider.add_span_processor(BaggageSpanProcessor())  # synthetic_request, session.id
    processor: BoundedExportProcessor | WorkerExportProcessor | None = None
    if exporter is None and otlp_endpoint_configured():
        if export_process_enabled():
            from minishop.observability.worker_export import WorkerExportProcessor

            processor = WorkerExportProcessor(
                exported=metrics.spans_exported, dropped=metrics.spans_dropped, service=service
            )
        else:
            from minishop.observability.otlp_exporter import DirectOTLPSpanExporter

            exporter = DirectOTLPSpanExporter()
    if exporter is not None:
        processor = BoundedExportProcessor(
            exporter,
            exported=metrics.spans_exported,
            dropped=metrics.spans_dropped,
            service=service,
        )
    if processor is not None:
        provider.add_span_processor(processor)
        metrics.gauge_callback(
            "otel_span_queue_size",
            "Finished spans waiting to be exported.",
            lambda: processor.queue_size,
        )
    return provider


def get_tracer(provider: TracerProvider | None) -> trace.Tracer:
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer(TRACER_NAME)
