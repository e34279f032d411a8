"""The bundle of telemetry one service is built with, and its orderly shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from minishop.observability.logging import configure_logging, get_logger
from minishop.observability.metrics import ServiceMetrics
from minishop.observability.runtime import EventLoopLagMonitor
from minishop.observability.tracing import build_tracer_provider, get_tracer


@dataclass
class Telemetry:
    service: str
    metrics: ServiceMetrics
    tracer_provider: TracerProvider | None
    tracer: trace.Tracer
    logger: structlog.typing.FilteringBoundLogger
    loop_lag: EventLoopLagMonitor = field(init=False)

    def __post_init__(self) -> None:
        self.loop_lag = EventLoopLagMonitor(self.metrics.event_loop_lag)

    async def start(self) -> None:
        self.loop_lag.start()

    async def shutdown(self) -> None:
        """Flush spans still queued; bounded, so a down collector cannot hang a stop."""
        await self.loop_lag.stop()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()


def setup_telemetry(
    service: str,
    *,
    version: str,
    environment: str,
    log_level: str = "INFO",
    span_exporter: SpanExporter | None = None,
) -> Telemetry:
    """Everything a service needs to be observable, configured from standard settings."""
    configure_logging(service, log_level)
    metrics = ServiceMetrics(service)
    provider = build_tracer_provider(service, version, environment, metrics, span_exporter)
    return Telemetry(
        service=service,
        metrics=metrics,
        tracer_provider=provider,
        tracer=get_tracer(provider),
        logger=get_logger("minishop.access"),
    )
