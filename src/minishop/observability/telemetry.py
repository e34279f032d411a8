"""The bundle of telemetry one service is built with, and its orderly shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from minishop.observability.log_export import (
    OtlpLogForwarder,
    build_logger_provider,
    log_export_enabled,
)
from minishop.observability.logging import configure_logging, get_logger
from minishop.observability.metrics import ServiceMetrics
from minishop.observability.mode import TelemetryMode, telemetry_mode
from minishop.observability.runtime import EventLoopLagMonitor
from minishop.observability.tracing import (
    TRACER_NAME,
    build_resource,
    build_tracer_provider,
    get_tracer,
)


@dataclass
class Telemetry:
    service: str
    metrics: ServiceMetrics
    tracer_provider: TracerProvider | None
    tracer: trace.Tracer
    logger: structlog.typing.FilteringBoundLogger
    logger_provider: LoggerProvider | None = None  # set when logs are exported over OTLP
    mode: TelemetryMode = TelemetryMode.MINISHOP
    loop_lag: EventLoopLagMonitor = field(init=False)

    def __post_init__(self) -> None:
        self.loop_lag = EventLoopLagMonitor(self.metrics.event_loop_lag)

    @property
    def own_spans(self) -> bool:
        """Whether MiniShop makes the server, client and database spans itself.

        False in zero-code mode: the contrib instrumentors make them, and ours would
        double every one.
        """
        return self.mode is TelemetryMode.MINISHOP

    @property
    def instrumentation_tracer(self) -> trace.Tracer | None:
        """The tracer for our own server, client and database spans; None when the
        zero-code instrumentation makes them (business spans use ``tracer`` either way)."""
        return self.tracer if self.own_spans else None

    async def start(self) -> None:
        self.loop_lag.start()

    async def shutdown(self) -> None:
        """Flush spans and log records still queued, side by side, each within the budget.

        Each flush is bounded (``MINISHOP_OTEL_SHUTDOWN_TIMEOUT_MS``, 0.75 s by default)
        and they run at the same time, so a down or black-holed collector adds at most
        that to a stop. They run off the event loop: both block on threads.
        """
        await self.loop_lag.stop()
        flushes = [
            asyncio.to_thread(provider.shutdown)
            for provider in (self.tracer_provider, self.logger_provider)
            if provider is not None
        ]
        await asyncio.gather(*flushes)


def setup_telemetry(
    service: str,
    *,
    version: str,
    environment: str,
    log_level: str = "INFO",
    span_exporter: SpanExporter | None = None,
) -> Telemetry:
    """Everything a service needs to be observable, configured from standard settings.

    In zero-code mode (``MINISHOP_TELEMETRY``) no tracer provider is built: the one
    ``opentelemetry-instrument`` installed globally gets the business spans (``CreateOrder``...)
    through the API, as a hand-written span in any zero-code service would.
    """
    mode = telemetry_mode()
    logger_provider = None
    if log_export_enabled():
        logger_provider = build_logger_provider(build_resource(service, version, environment))
    configure_logging(
        service, log_level, forward=OtlpLogForwarder(logger_provider) if logger_provider else None
    )
    metrics = ServiceMetrics(service)
    if mode is TelemetryMode.ZERO_CODE:
        provider = None
        tracer = trace.get_tracer(TRACER_NAME)  # follows the global provider, set or not
    else:
        provider = build_tracer_provider(service, version, environment, metrics, span_exporter)
        tracer = get_tracer(provider)
    return Telemetry(
        service=service,
        metrics=metrics,
        tracer_provider=provider,
        tracer=tracer,
        logger=get_logger("minishop.access"),
        logger_provider=logger_provider,
        mode=mode,
    )
