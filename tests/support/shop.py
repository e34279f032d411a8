"""The shop's services (as the manifest names them) wired together in one process,
talking through ASGI transports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from minishop.cli.loading import app_factory, settings_type
from minishop.manifest import MANIFEST, Manifest
from tests.support.helpers import metric_samples

BASE = "http://shop.test"
SHOP_SERVICES = tuple(entry.name for entry in MANIFEST.shop)
"""What `minishop up` runs as the shop, in start order (the gateway last)."""
PUBLIC_SERVICES = tuple(entry.name for entry in MANIFEST.public)
"""The services whose /api/v1/<name> the gateway forwards."""
SERVICES_WITH_DATABASES = tuple(entry.name for entry in MANIFEST.with_database)
# The shop's credentials in tests: the same for every service that holds credentials (all
# but the gateway), as `minishop up` does it.
INTERNAL_TOKEN = "test-internal-token"
ADMIN_TOKEN = "test-admin-token"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
INTERNAL_HEADERS = {"X-Internal-Token": INTERNAL_TOKEN}


def transport(app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))


@dataclass
class Shop:
    apps: dict[str, FastAPI]
    exporter: InMemorySpanExporter | None

    def finished_spans(self) -> list[ReadableSpan]:
        """Every span ended so far, after each service flushed its export queue."""
        assert self.exporter is not None, "start the shop with record_spans=True"
        for app in self.apps.values():
            provider = app.state.telemetry.tracer_provider
            if provider is not None:
                provider.force_flush()
        return list(self.exporter.get_finished_spans())

    def client(self, service: str = "gateway") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport(self.apps[service]), base_url=BASE)

    async def metric(self, service: str, family: str) -> dict[tuple, float]:
        """One metric family as ``service`` serves it (see ``helpers.metric_samples``)."""
        async with self.client(service) as client:
            return await metric_samples(client, family)


@contextlib.asynccontextmanager
async def running_shop(
    data_dir: Path,
    database_settings: Mapping[str, Mapping[str, str]] | None = None,
    *,
    failure_rate: float = 0.0,
    span_exporter: SpanExporter | None = None,
    record_spans: bool = False,
    gateway_options: Mapping[str, object] | None = None,
    reconcile_interval_seconds: float = 15.0,
    orders_link: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    manifest: Manifest = MANIFEST,
    service_options: Mapping[str, Mapping[str, object]] | None = None,
) -> AsyncIterator[Shop]:
    """Start every shop service of ``manifest`` (lifespans included), stop them in reverse.

    ``orders_link`` wraps the payments -> orders transport (to cut that link in a test).
    ``service_options`` adds settings per service name. The simulated supplier is off
    unless a test turns it on (``{"products": {"restock_interval_seconds": ...}}``), so
    the stock a test sets stays as it set it.
    """
    databases = dict(database_settings or {})
    exporter = InMemorySpanExporter() if record_spans else None
    spans = span_exporter or exporter
    common: dict[str, object] = {
        "data_dir": data_dir,
        "log_level": "WARNING",
        "migrations_in_process": True,  # one child per service and shop would add ~1 s each
    }
    tokens = {"internal_token": INTERNAL_TOKEN, "admin_token": ADMIN_TOKEN}
    reconcile = {"reconcile_interval_seconds": reconcile_interval_seconds}
    options: dict[str, Mapping[str, object]] = {
        "orders": reconcile,
        "payments": {
            **reconcile,
            "failure_rate": failure_rate,
            "latency_min_ms": 0,
            "latency_max_ms": 1,
        },
        "gateway": dict(gateway_options or {}),
        "products": {"restock_interval_seconds": 0},
    }
    for name, extra in (service_options or {}).items():
        options[name] = {**options.get(name, {}), **extra}
    apps: dict[str, FastAPI] = {}
    for entry in manifest.shop:  # in start order: what a service calls is already built
        credentials = tokens if entry.holds_credentials else {}
        values = {
            **common,
            **credentials,
            **databases.get(entry.name, {}),
            **options.get(entry.name, {}),
        }
        settings = settings_type(entry)(**values)
        links = {called.name: transport(apps[called.name]) for called in manifest.downstream(entry)}
        if orders_link is not None and entry.name == "payments":
            links["orders"] = orders_link(links["orders"])
        wiring: dict[str, object] = {"transports": links} if links else {}
        if entry.entry_point:  # it routes to whatever this manifest makes public
            wiring["manifest"] = manifest
        apps[entry.name] = app_factory(entry)(settings, span_exporter=spans, **wiring)
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield Shop(apps=apps, exporter=exporter)
