"""Composition root of the payments service: the one place its parts are wired."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from minishop.manifest import MANIFEST
from minishop.observability import SpanExporter
from minishop.payments.adapters import http_api
from minishop.payments.adapters.clients import HttpOrderBook
from minishop.payments.adapters.migrations import HEAD_REVISION
from minishop.payments.adapters.provider import ProviderBehaviour, SimulatedProvider
from minishop.payments.adapters.repository import SqlPaymentRepository
from minishop.payments.adapters.telemetry import PaymentMetrics
from minishop.payments.application.services import PaymentService
from minishop.payments.settings import PaymentsSettings
from minishop.platform.background import PeriodicJob
from minishop.platform.fault_flags import service_flags
from minishop.platform.foundation import build_foundation
from minishop.platform.http import build_client, liveness_check
from minishop.platform.service_app import ServiceParts, create_service_app

SERVICE = "payments"
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def create_app(
    settings: PaymentsSettings,
    *,
    span_exporter: SpanExporter | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """``transports`` replaces the network per downstream service (tests run them in-process)."""
    base = build_foundation(SERVICE, settings, span_exporter)
    orders = build_client(
        settings.url_of(MANIFEST.service("orders")),
        peer="orders",
        tracer=base.telemetry.instrumentation_tracer,
        timeout=settings.http_timeout_seconds,
        transport=(transports or {}).get("orders"),
        internal_token=settings.internal_token,
        metrics=base.telemetry.metrics,
    )
    # The provider reads the fault flags on each charge (payment_failure, payment_unreachable).
    flags = service_flags(SERVICE, settings, base.telemetry.metrics)
    provider = SimulatedProvider(
        ProviderBehaviour(settings.failure_rate, settings.latency_min_ms, settings.latency_max_ms),
        flags,
        seed=settings.seed,
    )
    metrics = PaymentMetrics(base.telemetry.metrics)
    service = PaymentService(
        SqlPaymentRepository(base.database),
        provider,
        HttpOrderBook(orders),
        base.telemetry.tracer,
        refunds=metrics,
    )
    metrics.follow_failure_rate(provider.failure_rate)
    reconciler = PeriodicJob(
        "reconcile-payments", settings.reconcile_interval_seconds, service.reconcile
    )
    return create_service_app(
        ServiceParts(
            name=SERVICE,
            description="Charges orders through a simulated provider that fails at random.",
            telemetry=base.telemetry,
            routers=[http_api.build_router(service, base.idempotency, metrics)],
            settings=settings,
            database=base.database,
            database_url=base.database_url,
            migrations_dir=MIGRATIONS,
            head_revision=HEAD_REVISION,
            database_schema=base.database_schema,
            readiness={"orders": liveness_check(orders)},
            on_startup=[reconciler.start],
            on_shutdown=[reconciler.stop, orders.aclose],
            flags=flags,
        )
    )
