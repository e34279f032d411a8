"""Builds a service's FastAPI application around its routers, the same way for all five."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from opentelemetry.instrumentation.utils import suppress_instrumentation

from minishop import __version__
from minishop.flags import FlagSource
from minishop.manifest import MANIFEST
from minishop.observability import (
    HealthCheck,
    ObservabilityMiddleware,
    SpanExporter,
    Telemetry,
    build_health_router,
    metrics_endpoint,
    setup_telemetry,
)
from minishop.observability.logging import get_logger
from minishop.platform.access import AccessGuard, closed_zones, document_guarded_routes
from minishop.platform.body_limit import BodySizeLimitMiddleware
from minishop.platform.docs import install_offline_docs
from minishop.platform.fault_flags import flag_watch, flags_router, service_flags
from minishop.platform.fault_injection import FaultInjectionMiddleware
from minishop.platform.openapi import ResponseRule, default_rules, install_problem_documentation
from minishop.platform.problems import UnexpectedErrorMiddleware, install_problem_handlers
from minishop.platform.profiling import debug_router
from minishop.platform.readiness import FAULT_CHECK, ReadinessGauge, fault_flag_check
from minishop.platform.settings import ServiceSettings

if TYPE_CHECKING:  # the database parts load only in a service that has a database
    from minishop.platform.sql import Database

Hook = Callable[[], Awaitable[None]]

# FastAPI 0.142+ traces on its own as soon as an OpenTelemetry provider exists and
# would double every span of ObservabilityMiddleware: the middleware owns tracing.
NATIVE_TELEMETRY_OFF = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


@dataclass
class ServiceParts:
    """What one service contributes; everything else is common."""

    name: str
    description: str
    telemetry: Telemetry
    routers: Sequence[APIRouter]
    settings: ServiceSettings
    """Its limits (body size, read time) and the credentials of its /internal and /admin
    routes (a token left unset closes its routes)."""
    database: Database | None = None
    database_url: str | None = None
    """What the migrations connect to (the settings' URL form)."""
    head_revision: str | None = None
    """The newest revision in ``migrations_dir`` (its package's ``HEAD_REVISION``)."""
    migrations_dir: Path | None = None
    database_schema: str | None = None
    readiness: Mapping[str, HealthCheck] = field(default_factory=dict)
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    problem_rules: Sequence[ResponseRule] = ()
    """Problems this service answers beyond the common ones (see ``platform.openapi``)."""
    flags: FlagSource | None = None
    """Its view of the fault flags; made from the settings when the bootstrap needs none."""


def create_service_app(parts: ServiceParts) -> FastAPI:
    telemetry = parts.telemetry
    log = get_logger("minishop.lifecycle")
    checks = dict(parts.readiness)
    database = parts.database
    settings = parts.settings
    flags = parts.flags or service_flags(parts.name, settings, telemetry.metrics)
    routers = list(parts.routers)
    if _holds_credentials(parts.name):  # the gateway has no admin token to guard it with
        routers.append(flags_router(flags))
    # Every process has the profiler; where `minishop up` withholds the admin token it
    # refuses every call, and is left out of the process's OpenAPI document.
    withheld = _withheld(parts.name)
    routers.append(debug_router(parts.name, documented=withheld is None))
    guarded = document_guarded_routes(routers)
    closed = closed_zones(guarded, settings.internal_token, settings.admin_token)
    if database is not None:
        checks = {"database": _untraced_ping(database), **checks}
        telemetry.metrics.gauge_callback(
            "db_pool_connections_in_use",
            "Database connections checked out of the pool.",
            database.connections_in_use,
        )
        telemetry.metrics.gauge_callback(
            "db_pool_connections_max",
            "Most database connections the pool will open.",
            database.connections_max,
        )
    checks[FAULT_CHECK] = fault_flag_check(flags, parts.name)
    watch = flag_watch(flags)
    readiness = ReadinessGauge(telemetry.metrics, checks, settings.readiness_probe_interval_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await telemetry.start()
        flags.refresh()  # the faults in force before the first request, not half a second after
        await watch.start()
        if database is not None:
            if parts.migrations_dir is not None and parts.database_url is not None:
                from minishop.platform.schema_upgrade import upgrade_database

                await upgrade_database(
                    parts.database_url,
                    parts.database_schema,
                    parts.migrations_dir,
                    parts.head_revision or "",
                    in_process=settings.migrations_in_process,
                )
            await database.open()
        for hook in parts.on_startup:
            await hook()
        await readiness.start()
        for zone in closed:
            if withheld is not None:  # by design (the manifest): nothing to warn about
                log.info(
                    f"every call to /{zone.segment}/* is refused: this process is never "
                    f"given {zone.variable}",
                    variable=zone.variable,
                )
                continue
            log.warning(
                f"{zone.variable} is not set: every call to /{zone.segment}/* is refused",
                variable=zone.variable,
            )
        log.info("service started", version=__version__)
        try:
            yield
        finally:
            log.info("service stopping")
            await readiness.stop()
            for hook in parts.on_shutdown:
                await hook()
            await watch.stop()
            if database is not None:
                await database.close()
            await telemetry.shutdown()

    app = FastAPI(
        title=f"MiniShop {parts.name}",
        description=parts.description,
        version=__version__,
        lifespan=lifespan,
        # Zero-code mode leaves FastAPI's telemetry at its default, as its users would; it
        # stands aside by itself when it finds the contrib ASGI middleware in the stack.
        telemetry=NATIVE_TELEMETRY_OFF if telemetry.own_spans else None,
        docs_url=None,  # served with local assets below, never from a CDN
        redoc_url=None,
    )
    app.state.telemetry = telemetry
    app.state.database = database
    app.state.flags = flags
    install_problem_handlers(app, database=database is not None)
    app.add_api_route(
        "/metrics", metrics_endpoint(telemetry.metrics), methods=["GET"], include_in_schema=False
    )
    app.include_router(
        build_health_router(
            parts.name,
            checks,
            version=__version__,
            restarts=telemetry.metrics.restarts,
            on_readiness=readiness.record,
        )
    )
    for router in routers:
        app.include_router(router)
    install_offline_docs(app)
    # Innermost first: the guard answers before a body is read, inside the middleware
    # that counts and logs every request, so refusals show like any other 4xx.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        read_timeout_seconds=settings.body_read_timeout_seconds,
    )
    if guarded:
        app.add_middleware(
            AccessGuard,
            zones=guarded,
            internal_token=settings.internal_token,
            admin_token=settings.admin_token,
            withheld=withheld,
        )
    # Faults (service_latency, cpu_burn) before the guard and the body's read deadline,
    # inside observability: the span, the latency histogram and the access line show them.
    app.add_middleware(FaultInjectionMiddleware, flags=flags, service=parts.name)
    # Observability sees the 500 that UnexpectedErrorMiddleware answers for a crash.
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(ObservabilityMiddleware, telemetry=telemetry)
    install_problem_documentation(
        app, [*default_rules(has_database=database is not None), *parts.problem_rules]
    )
    return app


def _holds_credentials(service: str) -> bool:
    try:
        return MANIFEST.service(service).holds_credentials
    except KeyError:  # a service a test builds outside the manifest
        return False


def _withheld(service: str) -> str | None:
    """``service`` when the manifest says `minishop up` never gives it the tokens."""
    if service in MANIFEST and not MANIFEST.service(service).holds_credentials:
        return service
    return None


def _untraced_ping(database: Database) -> HealthCheck:
    async def check() -> None:
        with suppress_instrumentation():
            await database.ping()

    return check


def service_telemetry(
    service: str, settings: ServiceSettings, span_exporter: SpanExporter | None = None
) -> Telemetry:
    """Telemetry for ``service`` from its settings (the gateway needs only this part)."""
    return setup_telemetry(
        service,
        version=__version__,
        environment=settings.environment,
        log_level=settings.log_level,
        span_exporter=span_exporter,
    )
