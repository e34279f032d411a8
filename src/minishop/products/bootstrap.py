"""Composition root of the products service: the one place its parts are wired."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from minishop.observability import SpanExporter
from minishop.platform.fault_flags import service_flags
from minishop.platform.foundation import build_foundation
from minishop.platform.service_app import ServiceParts, create_service_app
from minishop.products.adapters import http_api, orm
from minishop.products.adapters.faults import ProductDbError
from minishop.products.adapters.repository import SqlProductRepository
from minishop.products.adapters.telemetry import InventoryMetrics
from minishop.products.application.services import ProductService
from minishop.products.settings import ProductsSettings

SERVICE = "products"
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def create_app(settings: ProductsSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    base = build_foundation(SERVICE, settings, orm.idempotency_keys, span_exporter)
    # The repository reads the fault flags to fail one product's statements (product_db_error).
    flags = service_flags(SERVICE, settings, base.telemetry.metrics)
    repository = SqlProductRepository(base.engine, ProductDbError(flags))
    service = ProductService(repository, base.telemetry.tracer)
    metrics = InventoryMetrics(base.telemetry.metrics)

    async def publish_stock() -> None:
        metrics.load(await repository.all_stock())

    return create_service_app(
        ServiceParts(
            name=SERVICE,
            description="The catalog and its stock.",
            telemetry=base.telemetry,
            routers=[http_api.build_router(service, base.idempotency, metrics)],
            settings=settings,
            engine=base.engine,
            migrations_dir=MIGRATIONS,
            database_schema=base.database_schema,
            on_startup=[publish_stock],
            flags=flags,
        )
    )
