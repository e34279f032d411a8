"""Composition root of the orders service: the one place its parts are wired."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from minishop.manifest import MANIFEST
from minishop.observability import SpanExporter
from minishop.orders.adapters import http_api
from minishop.orders.adapters.clients import HttpInventory, HttpUserDirectory
from minishop.orders.adapters.memory_leak import MemoryLeak, hooked_routes
from minishop.orders.adapters.migrations import HEAD_REVISION
from minishop.orders.adapters.repository import SqlOrderRepository
from minishop.orders.adapters.telemetry import OrderMetrics
from minishop.orders.adapters.user_cache import CachedUserDirectory
from minishop.orders.application.expiry import OrderExpiry
from minishop.orders.application.ports import UserDirectory
from minishop.orders.application.services import OrderService
from minishop.orders.settings import OrdersSettings
from minishop.platform.background import PeriodicJob
from minishop.platform.fault_flags import service_flags
from minishop.platform.foundation import build_foundation
from minishop.platform.http import build_client, liveness_check
from minishop.platform.service_app import ServiceParts, create_service_app

SERVICE = "orders"
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def create_app(
    settings: OrdersSettings,
    *,
    span_exporter: SpanExporter | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """``transports`` replaces the network per downstream service (tests run them in-process)."""
    base = build_foundation(SERVICE, settings, span_exporter)
    transports = transports or {}
    tracer = base.telemetry.tracer
    users = build_client(
        settings.url_of(MANIFEST.service("users")),
        peer="users",
        tracer=base.telemetry.instrumentation_tracer,
        timeout=settings.http_timeout_seconds,
        transport=transports.get("users"),
        metrics=base.telemetry.metrics,
    )
    products = build_client(
        settings.url_of(MANIFEST.service("products")),
        peer="products",
        tracer=base.telemetry.instrumentation_tracer,
        timeout=settings.http_timeout_seconds,
        transport=transports.get("products"),
        metrics=base.telemetry.metrics,
        internal_token=settings.internal_token,
    )
    repository = SqlOrderRepository(base.database)
    inventory = HttpInventory(products)
    directory: UserDirectory = HttpUserDirectory(users)
    if settings.user_cache_seconds > 0:
        directory = CachedUserDirectory(directory, settings.user_cache_seconds)
    service = OrderService(repository, directory, inventory, tracer)
    reconciler = PeriodicJob(
        "reconcile-orders", settings.reconcile_interval_seconds, service.reconcile
    )
    metrics = OrderMetrics(base.telemetry.metrics)
    expiry = OrderExpiry(
        repository,
        inventory,
        metrics,
        tracer,
        timeout=timedelta(seconds=settings.payment_timeout_seconds),
    )
    # Each expiry is a business event (traced, reaching products); its poll stays quiet.
    expiring = PeriodicJob(
        "expire-orders", settings.expiry_interval_seconds, expiry.expire_unpaid, quiet=False
    )
    background = [reconciler, *([expiring] if settings.orders_expire else [])]
    # Every API request reads the fault flags: orders_memory_leak keeps memory on each.
    flags = service_flags(SERVICE, settings, base.telemetry.metrics)
    leak = MemoryLeak(flags)
    api = http_api.build_router(
        service, base.idempotency, metrics, route_class=hooked_routes(leak.on_request)
    )

    async def close_clients() -> None:
        await users.aclose()
        await products.aclose()

    app = create_service_app(
        ServiceParts(
            name=SERVICE,
            description="Orders and their lines, priced by the catalog as it gives their stock.",
            telemetry=base.telemetry,
            routers=[api],
            settings=settings,
            database=base.database,
            database_url=base.database_url,
            migrations_dir=MIGRATIONS,
            head_revision=HEAD_REVISION,
            database_schema=base.database_schema,
            readiness={"users": liveness_check(users), "products": liveness_check(products)},
            on_startup=[job.start for job in background],
            on_shutdown=[*(job.stop for job in background), close_clients],
            flags=flags,
        )
    )
    app.state.order_expiry = expiry  # a test runs a round when it chooses
    return app
