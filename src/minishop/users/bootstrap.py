"""Composition root of the users service: the one place its parts are wired."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from minishop import __version__
from minishop.observability import setup_telemetry
from minishop.platform.database import create_engine
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.service_app import ServiceParts, create_service_app
from minishop.users.adapters import http_api, orm
from minishop.users.adapters.repository import SqlUserRepository
from minishop.users.adapters.telemetry import UserMetrics
from minishop.users.application.services import UserService
from minishop.users.settings import UsersSettings

SERVICE = "users"
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def create_app(settings: UsersSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    telemetry = setup_telemetry(
        SERVICE,
        version=__version__,
        environment=settings.environment,
        log_level=settings.log_level,
        span_exporter=span_exporter,
    )
    engine = create_engine(settings.resolved_database_url(SERVICE), pool_size=settings.db_pool_size)
    service = UserService(SqlUserRepository(engine))
    store = IdempotencyStore(
        engine, orm.idempotency_keys, wait_seconds=settings.idempotency_wait_seconds
    )
    router = http_api.build_router(service, store, UserMetrics(telemetry.metrics))
    return create_service_app(
        ServiceParts(
            name=SERVICE,
            description="Who may place orders.",
            telemetry=telemetry,
            routers=[router],
            max_body_bytes=settings.max_body_bytes,
            engine=engine,
            migrations_dir=MIGRATIONS,
        )
    )
