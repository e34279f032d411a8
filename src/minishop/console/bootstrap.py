"""Composition root of the console: the store, the OTLP receiver and the web pages, wired.

One process serves two ports: the web UI and JSON API on ``port`` (through the platform's
middleware: access log, metrics, problem+json), and the OTLP receiver on ``otlp_port``,
handed its requests before any of that middleware (it counts on its own and must answer in
milliseconds). Writing to SQLite happens on one writer thread; pages read on worker threads.
"""

from __future__ import annotations

from fastapi import FastAPI

from minishop.console.adapters.lab import HttpLab, lab_processes
from minishop.console.adapters.metrics import ConsoleMetrics
from minishop.console.adapters.receiver import build_receiver_app
from minishop.console.adapters.sqlite_store import SqliteTelemetryStore
from minishop.console.adapters.web.alerts import build_alerts_router, default_runbooks_dir
from minishop.console.adapters.web.api import build_api_router
from minishop.console.adapters.web.dashboards import (
    build_dashboards_router,
    default_dashboards_dir,
)
from minishop.console.adapters.web.pages import build_pages_router, mount_static
from minishop.console.adapters.web.profiles import build_profiles_router, mount_speedscope
from minishop.console.application.ingest import Ingest
from minishop.console.settings import ConsoleSettings
from minishop.manifest import MANIFEST
from minishop.observability import SpanExporter
from minishop.platform.listeners import ByLocalPort
from minishop.platform.service_app import ServiceParts, create_service_app, service_telemetry

SERVICE = "console"


def create_app(settings: ConsoleSettings, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    telemetry = service_telemetry(SERVICE, settings, span_exporter)
    counting = ConsoleMetrics(telemetry.metrics)
    store = SqliteTelemetryStore(
        settings.data_dir / "console" / "telemetry.db",
        max_spans=settings.retention_spans,
        max_logs=settings.retention_logs,
        max_age_seconds=settings.retention_hours * 3600,
        on_retention=counting.retention_deleted,
    )
    ingest = Ingest(
        store,
        max_items=settings.queue_items,
        retention_interval_seconds=settings.retention_interval_seconds,
        counters=counting,
    )
    counting.watch(lambda: ingest.queued_items, store.counts)
    receiver = build_receiver_app(
        ingest, max_body_bytes=settings.otlp_max_body_bytes, metrics=counting
    )
    prometheus = settings.url_for("prometheus", 9090)
    lab = HttpLab(lab_processes(settings, MANIFEST))

    async def start_ingest() -> None:
        ingest.start()

    async def stop_ingest() -> None:
        ingest.stop()
        store.close()

    app = create_service_app(
        ServiceParts(
            name=SERVICE,
            description="The lab's telemetry viewer: traces, logs, dashboards, alerts, map.",
            telemetry=telemetry,
            routers=[
                build_api_router(store),
                build_pages_router(store, lab, settings),
                build_profiles_router(settings),
                build_dashboards_router(
                    settings.dashboards_dir or default_dashboards_dir(),
                    prometheus,
                    store,
                    settings,
                ),
                build_alerts_router(
                    prometheus,
                    settings.url_for("alertmanager", 9093),
                    settings.url_for("slack-receiver", MANIFEST.service("slack-receiver").port),
                    settings.runbooks_dir or default_runbooks_dir(),
                    settings,
                ),
            ],
            settings=settings,
            on_startup=[start_ingest],
            on_shutdown=[stop_ingest],
        )
    )
    mount_static(app)
    mount_speedscope(app)
    app.add_middleware(ByLocalPort, port=settings.otlp_port, other=receiver)
    app.state.extra_ports = (settings.otlp_port,)
    app.state.store = store
    return app
