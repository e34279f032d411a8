"""Composition root of the products service: the one place its parts are wired."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from minishop.observability import SpanExporter
from minishop.platform.background import PeriodicJob
from minishop.platform.fault_flags import service_flags
from minishop.platform.foundation import build_foundation
from minishop.platform.service_app import ServiceParts, create_service_app
from minishop.products.adapters import http_api
from minishop.products.adapters.faults import ProductDbError
from minishop.products.adapters.migrations import HEAD_REVISION
from minishop.products.adapters.repository import SqlProductRepository
from minishop.products.adapters.telemetry import InventoryMetrics
from minishop.products.application.services import ProductService
from minishop.products.application.supplier import Supplier
from minishop.products.domain.model import RestockPolicy
from minishop.products.settings import ProductsSettings

SERVICE = "products"
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def create_app(settings: ProductsSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    base = build_foundation(SERVICE, settings, span_exporter)
    # The repository reads the fault flags to fail one product's statements (product_db_error).
    flags = service_flags(SERVICE, settings, base.telemetry.metrics)
    repository = SqlProductRepository(base.database, ProductDbError(flags))
    service = ProductService(repository, base.telemetry.tracer)
    metrics = InventoryMetrics(base.telemetry.metrics)

    supplier = Supplier(
        repository,
        RestockPolicy.create(settings.restock_threshold, settings.restock_target),
        metrics,
        base.telemetry.tracer,
    )
    # Its deliveries are business events (traced); it keeps its own polling quiet.
    restocking = PeriodicJob(
        "restock-products", settings.restock_interval_seconds, supplier.restock_low, quiet=False
    )

    async def publish_stock() -> None:
        metrics.load(await repository.all_stock())

    app = create_service_app(
        ServiceParts(
            name=SERVICE,
            description="The catalog and its stock.",
            telemetry=base.telemetry,
            routers=[http_api.build_router(service, base.idempotency, metrics)],
            settings=settings,
            database=base.database,
            database_url=base.database_url,
            migrations_dir=MIGRATIONS,
            head_revision=HEAD_REVISION,
            database_schema=base.database_schema,
            on_startup=[publish_stock, *([restocking.start] if settings.supplier_on else [])],
            on_shutdown=[restocking.stop],
            flags=flags,
        )
    )
    app.state.supplier = supplier  # a test runs a round when it chooses
    return app
