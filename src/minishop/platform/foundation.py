"""What every database-owning service starts from: telemetry, its database, idempotency keys.

Apart from ``service_app`` so that a service without such a database (the gateway, the
console) never loads a database driver.
"""

from __future__ import annotations

from dataclasses import dataclass

from minishop.observability import SpanExporter, Telemetry
from minishop.observability.database import StatementSpans
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.service_app import service_telemetry
from minishop.platform.settings import ServiceSettings
from minishop.platform.sql import Database, open_database


@dataclass
class Foundation:
    """The parts every database-owning service starts from."""

    telemetry: Telemetry
    database: Database
    database_url: str
    idempotency: IdempotencyStore
    database_schema: str | None


def build_foundation(
    service: str,
    settings: ServiceSettings,
    span_exporter: SpanExporter | None = None,
) -> Foundation:
    telemetry = service_telemetry(service, settings, span_exporter)
    url = settings.resolved_database_url(service)
    database = open_database(url, schema=settings.database_schema, pool_size=settings.db_pool_size)
    if telemetry.tracer_provider is not None:  # no spans at all when tracing is off
        database.trace_with(
            StatementSpans(
                telemetry.tracer_provider.get_tracer("minishop.database"),
                system=database.system,
                namespace=database.namespace,
                server_address=getattr(database, "server_address", None),
                server_port=getattr(database, "server_port", None),
            )
        )
    store = IdempotencyStore(database, wait_seconds=settings.idempotency_wait_seconds)
    return Foundation(
        telemetry=telemetry,
        database=database,
        database_url=url,
        idempotency=store,
        database_schema=settings.database_schema,
    )
