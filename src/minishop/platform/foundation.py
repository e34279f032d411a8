"""What every database-owning service starts from: telemetry, an engine, idempotency keys.

Apart from ``service_app`` so that a service without such a database (the gateway, the
console) never loads SQLAlchemy and Alembic.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from minishop.observability import SpanExporter, Telemetry
from minishop.platform.database import create_engine
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.service_app import service_telemetry
from minishop.platform.settings import ServiceSettings


@dataclass
class Foundation:
    """The parts every database-owning service starts from."""

    telemetry: Telemetry
    engine: AsyncEngine
    idempotency: IdempotencyStore
    database_schema: str | None


def build_foundation(
    service: str,
    settings: ServiceSettings,
    idempotency_keys: Table,
    span_exporter: SpanExporter | None = None,
) -> Foundation:
    telemetry = service_telemetry(service, settings, span_exporter)
    engine = create_engine(
        settings.resolved_database_url(service),
        pool_size=settings.db_pool_size,
        schema=settings.database_schema,
    )
    store = IdempotencyStore(
        engine, idempotency_keys, wait_seconds=settings.idempotency_wait_seconds
    )
    return Foundation(
        telemetry=telemetry,
        engine=engine,
        idempotency=store,
        database_schema=settings.database_schema,
    )
