"""Synthetic traffic is visible: the load generator's W3C baggage reaches every service's
spans (the gateway's outgoing calls propagate it), and each service counts it apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest

from minishop.observability.baggage import MAX_VALUE_LENGTH, BaggageSpanProcessor
from tests.support.helpers import order_body
from tests.support.observed import value
from tests.support.shop import Shop, running_shop

SYNTHETIC = {"baggage": "synthetic_request=true,session.id=0123abcd,user.password=hunter2"}


def _synthetic_count(shop: Shop, service: str) -> float:
    registry = shop.apps[service].state.telemetry.metrics.registry
    return value(generate_latest(registry).decode(), "synthetic_requests_total")


async def test_the_baggage_of_an_order_reaches_the_spans_of_every_service(
    sqlite_shop: Shop,
) -> None:
    async with sqlite_shop.client() as client:
        response = await client.post("/order", json=order_body(quantity=1), headers=SYNTHETIC)
        assert response.status_code == 201, response.text
    (root,) = [span for span in sqlite_shop.finished_spans() if span.name == "POST /order"]
    spans = [s for s in sqlite_shop.finished_spans() if s.context.trace_id == root.context.trace_id]
    services = {span.resource.attributes["service.name"] for span in spans}
    assert {"gateway", "orders", "users", "products"} <= services
    for span in spans:  # server, client, business and database spans alike
        assert span.attributes.get("synthetic_request") == "true", span.name
        assert span.attributes.get("session.id") == "0123abcd", span.name
        assert "user.password" not in span.attributes  # only the allow-list is copied
    assert {span.name for span in spans} >= {"CreateOrder", "DeductInventory"}


async def test_people_s_requests_carry_no_synthetic_mark_and_are_not_counted(
    sqlite_shop: Shop,
) -> None:
    async with sqlite_shop.client() as client:
        assert (await client.get("/api/v1/products/1")).status_code == 200
        assert (await client.get("/api/v1/products/2", headers=SYNTHETIC)).status_code == 200
        assert (await client.get("/api/v1/products/3", headers=SYNTHETIC)).status_code == 200
    server = [
        s for s in sqlite_shop.finished_spans() if s.name == "GET /api/v1/products/{path:path}"
    ]
    marks = sorted(str(span.attributes.get("synthetic_request")) for span in server)
    assert marks == ["None", "true", "true"]
    assert _synthetic_count(sqlite_shop, "gateway") == 2
    assert _synthetic_count(sqlite_shop, "products") == 2
    assert _synthetic_count(sqlite_shop, "orders") == 0


async def test_synthetic_requests_are_counted_with_tracing_off_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    async with running_shop(tmp_path) as shop, shop.client() as client:
        assert (await client.get("/api/v1/products/1", headers=SYNTHETIC)).status_code == 200
        assert (await client.get("/api/v1/products/1")).status_code == 200
        other = {"baggage": "synthetic_request=false,session.id=x"}
        assert (await client.get("/api/v1/products/1", headers=other)).status_code == 200
        assert _synthetic_count(shop, "gateway") == 1
        assert _synthetic_count(shop, "products") == 0  # no context, nothing propagated


def test_the_processor_copies_only_listed_keys_and_cuts_long_values() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BaggageSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    ctx = baggage.set_baggage("session.id", "x" * 500)
    ctx = baggage.set_baggage("synthetic_request", "true", ctx)
    ctx = baggage.set_baggage("tenant", "acme", ctx)
    token = context.attach(ctx)
    try:
        with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child"):
            pass
    finally:
        context.detach(token)
    with tracer.start_as_current_span("no baggage"):
        pass
    spans = {span.name: span for span in exporter.get_finished_spans()}
    for name in ("parent", "child"):
        assert spans[name].attributes["synthetic_request"] == "true"
        assert spans[name].attributes["session.id"] == "x" * MAX_VALUE_LENGTH
        assert "tenant" not in spans[name].attributes
    assert dict(spans["no baggage"].attributes) == {}
