"""Composition root of the users service: the one place its parts are wired."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from minishop.observability import SpanExporter
from minishop.platform.foundation import build_foundation
from minishop.platform.service_app import ServiceParts, create_service_app
from minishop.users.adapters import http_api
from minishop.users.adapters.migrations import HEAD_REVISION
from minishop.users.adapters.repository import SqlUserRepository
from minishop.users.adapters.telemetry import UserMetrics
from minishop.users.application.services import UserService
from minishop.users.settings import UsersSettings

SERVICE = "users"
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def create_app(settings: UsersSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    base = build_foundation(SERVICE, settings, span_exporter)
    service = UserService(SqlUserRepository(base.database))
    router = http_api.build_router(service, base.idempotency, UserMetrics(base.telemetry.metrics))
    return create_service_app(
        ServiceParts(
            name=SERVICE,
            description="Who may place orders.",
            telemetry=base.telemetry,
            routers=[router],
            settings=settings,
            database=base.database,
            database_url=base.database_url,
            migrations_dir=MIGRATIONS,
            head_revision=HEAD_REVISION,
            database_schema=base.database_schema,
        )
    )
