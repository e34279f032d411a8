"""The five services wired together in one process, talking through ASGI transports."""

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

from minishop.gateway.bootstrap import create_app as create_gateway
from minishop.gateway.settings import GatewaySettings
from minishop.orders.bootstrap import create_app as create_orders
from minishop.orders.settings import OrdersSettings
from minishop.payments.bootstrap import create_app as create_payments
from minishop.payments.settings import PaymentsSettings
from minishop.products.bootstrap import create_app as create_products
from minishop.products.settings import ProductsSettings
from minishop.users.bootstrap import create_app as create_users
from minishop.users.settings import UsersSettings

BASE = "http://shop.test"
# The shop's credentials in tests: the same for every service, as `minishop up` does it.
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
) -> AsyncIterator[Shop]:
    """``orders_link`` wraps the payments -> orders transport (to cut that link in a test)."""
    """Start all five apps (lifespans included) and stop them in reverse order."""
    databases = dict(database_settings or {})
    exporter = InMemorySpanExporter() if record_spans else None
    spans = span_exporter or exporter
    common = {"data_dir": data_dir, "log_level": "WARNING"}
    tokens = {"internal_token": INTERNAL_TOKEN, "admin_token": ADMIN_TOKEN}

    def own(service: str) -> dict[str, str]:
        """The service's database settings and the shop's tokens."""
        return {**tokens, **databases.get(service, {})}

    users = create_users(UsersSettings(**common, **own("users")), span_exporter=spans)
    products = create_products(ProductsSettings(**common, **own("products")), span_exporter=spans)
    orders = create_orders(
        OrdersSettings(
            **common, **own("orders"), reconcile_interval_seconds=reconcile_interval_seconds
        ),
        span_exporter=spans,
        transports={"users": transport(users), "products": transport(products)},
    )
    payments = create_payments(
        PaymentsSettings(
            **common,
            **own("payments"),
            failure_rate=failure_rate,
            latency_min_ms=0,
            latency_max_ms=1,
            reconcile_interval_seconds=reconcile_interval_seconds,
        ),
        span_exporter=spans,
        orders_transport=orders_link(transport(orders)) if orders_link else transport(orders),
    )
    gateway = create_gateway(
        GatewaySettings(**common, **dict(gateway_options or {})),
        span_exporter=spans,
        transports={
            "users": transport(users),
            "products": transport(products),
            "orders": transport(orders),
            "payments": transport(payments),
        },
    )
    apps = {
        "users": users,
        "products": products,
        "orders": orders,
        "payments": payments,
        "gateway": gateway,
    }
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield Shop(apps=apps, exporter=exporter)
