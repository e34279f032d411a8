"""Database client spans for a SQLAlchemy engine."""

from __future__ import annotations

from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine


def trace_engine(engine: AsyncEngine, tracer_provider: TracerProvider | None) -> None:
    """Attach the contrib SQLAlchemy tracer to one engine.

    The contrib instrumentor is a process-wide singleton that instruments only its
    first caller; binding its engine tracer directly gives every service (and
    every test app in one process) spans from its own provider. Pool usage is
    exposed by the service's Prometheus gauges, so its OTel counter is a no-op.
    """
    if tracer_provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = NoOpMeter("minishop").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine.sync_engine, usage, enable_commenter=False)
