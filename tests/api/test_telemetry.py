"""Telemetry of one request, in-process: spans counted, metrics labelled, logs correlated."""

from __future__ import annotations

import io
import logging
import socket
from collections import Counter
from pathlib import Path

import orjson
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from minishop.observability.logging import configure_logging
from tests.support.helpers import order_body
from tests.support.shop import Shop, running_shop


def _spans_of_trace(shop: Shop, trace_id: int):
    return [s for s in shop.finished_spans() if s.context.trace_id == trace_id]


@pytest.fixture(scope="module")
def global_spans() -> InMemorySpanExporter:
    """A global tracer provider, as a deployment might set: FastAPI 0.142+ traces into it unless
    told not to, which would double every request span."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


async def test_one_order_is_one_trace_with_a_known_number_of_spans(
    sqlite_shop: Shop, global_spans: InMemorySpanExporter
) -> None:
    """Guards against doubled spans (FastAPI's own telemetry, contrib ASGI send/receive spans)."""
    global_spans.clear()
    async with sqlite_shop.client() as client:
        response = await client.post("/order", json=order_body())
        assert response.status_code == 201
    (root,) = [s for s in sqlite_shop.finished_spans() if s.name == "POST /order"]
    spans = _spans_of_trace(sqlite_shop, root.context.trace_id)
    assert root.parent is None
    names = Counter(s.name for s in spans if not s.attributes.get("db.system") and
                    not s.attributes.get("db.system.name"))  # fmt: skip
    assert names == {
        "POST /order": 1,  # gateway server
        "POST orders": 1,  # gateway -> orders
        "POST /api/v1/orders": 1,  # orders server
        "CreateOrder": 1,
        "GET users": 1,
        "GET /api/v1/users/{user_id}": 1,
        "POST products": 1,  # the deduction answers the prices: no catalog call
        "POST /internal/inventory/deductions": 1,
        "DeductInventory": 1,
    }
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    assert sorted(s.resource.attributes["service.name"] for s in servers) == [
        "gateway", "orders", "products", "users",
    ]  # fmt: skip
    assert global_spans.get_finished_spans() == ()
    database_spans = [s for s in spans if s.kind == SpanKind.CLIENT and s not in servers
                      and (s.attributes.get("db.system") or s.attributes.get("db.system.name"))]  # fmt: skip
    assert database_spans, "database calls are traced"
    deduct = next(s for s in spans if s.name == "DeductInventory")
    assert deduct.attributes["product.id"] == 1
    assert deduct.attributes["order.item_count"] == 2
    # products knows the order by its reservation only: the span names it as that.
    assert "order.id" not in deduct.attributes
    assert len(deduct.attributes["reservation.id"]) == 32  # orders' uuid4().hex
    resource = root.resource.attributes
    assert resource["service.namespace"] == "minishop"
    assert "service.version" in resource and "deployment.environment" in resource


def _statements(spans) -> list[tuple[str, str]]:
    """(service, the statement's first words) of every database span, in start order."""
    found = []
    for span in sorted(spans, key=lambda s: s.start_time):
        text = span.attributes.get("db.query.text")
        if text is not None:
            words = " ".join(str(text).split()[:3])
            found.append((span.resource.attributes["service.name"], words))
    return found


async def test_an_order_and_its_payment_keep_a_span_for_every_hop_and_statement(
    sqlite_shop: Shop,
) -> None:
    """The shorter path (issue 12): every call and statement that remains is still traced.

    A second order of the same user skips the users call (orders remembers the user), and
    the payment's reads and writes of the order are one statement each.
    """
    async with sqlite_shop.client() as client:
        await client.post("/order", json=order_body())  # the user is now known to orders
        sqlite_shop.exporter.clear()
        placed = await client.post("/order", json=order_body())
        assert placed.status_code == 201, placed.text
        paid = await client.post("/payment/pay", json={"order_id": placed.json()["order_id"]})
        assert paid.status_code == 200, paid.text
    spans = sqlite_shop.finished_spans()
    # The first order's root span may end after its response reached the client: take the
    # second order's by its CreateOrder span.
    order_id = placed.json()["order_id"]
    (create,) = [
        s for s in spans if s.name == "CreateOrder" and s.attributes["order.id"] == order_id
    ]
    (order_root,) = [s for s in _spans_of_trace(sqlite_shop, create.context.trace_id)
                     if s.name == "POST /order"]  # fmt: skip
    (pay_root,) = [s for s in spans if s.name == "POST /payment/pay"]
    order_trace = _spans_of_trace(sqlite_shop, order_root.context.trace_id)
    pay_trace = _spans_of_trace(sqlite_shop, pay_root.context.trace_id)
    calls = [s.name for s in order_trace + pay_trace if s.kind == SpanKind.CLIENT
             and s.attributes.get("http.request.method")]  # fmt: skip
    assert sorted(calls) == sorted(
        ["POST orders", "POST products", "POST payments", "GET orders", "POST orders"]
    ), calls
    orders_statements = [
        words for service, words in _statements(order_trace + pay_trace) if service == "orders"
    ]
    assert orders_statements == [
        "INSERT INTO orders",  # reserving: the record a crash leaves for the reconciler
        "UPDATE orders SET",  # pending, with its total ...
        "INSERT INTO order_lines",  # ... and its lines, in the same transaction
        "SELECT o.id, o.user_id,",  # payments reads the order with its lines: one statement
        "UPDATE orders SET",  # the payment's outcome: one conditional UPDATE
    ], orders_statements
    assert {service for service, _ in _statements(order_trace)} == {"orders", "products"}
    assert {service for service, _ in _statements(pay_trace)} == {"orders", "payments"}


async def test_incoming_traceparent_is_continued(sqlite_shop: Shop) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with sqlite_shop.client("products") as client:
        await client.get(
            "/api/v1/products/1", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        )
    spans = _spans_of_trace(sqlite_shop, int(trace_id, 16))
    server = next(s for s in spans if s.kind == SpanKind.SERVER)
    assert server.name == "GET /api/v1/products/{product_id}"
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_metrics_use_route_templates_and_carry_exemplars(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client() as client:
        order_id = (await client.post("/order", json=order_body())).json()["order_id"]
        await client.get(f"/api/v1/orders/{order_id}")
    async with sqlite_shop.client("orders") as orders:
        text = (await orders.get("/metrics")).text
        openmetrics = await orders.get(
            "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
        )
    families = {family.name: family for family in text_string_to_metric_families(text)}
    routes = {sample.labels["route"] for sample in families["request"].samples}
    assert routes == {"/api/v1/orders", "/api/v1/orders/{order_id}"}
    assert "request_duration_seconds" in families
    assert "orders_created" in families and "order_value" in families
    assert {"requests_in_flight", "event_loop_lag_seconds", "db_pool_connections_in_use"} <= set(
        families
    )
    assert "process_cpu_seconds" in families
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    exemplar_lines = [
        line for line in openmetrics.text.splitlines()
        if line.startswith("request_total") and '# {trace_id="' in line
    ]  # fmt: skip
    assert exemplar_lines


def test_log_lines_are_json_with_trace_ids_and_masked_personal_data() -> None:
    stream = io.BytesIO()
    configure_logging("orders", "INFO", stream=stream)
    log = structlog.get_logger("test")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        log.info("checkout", email="ada@example.com", card_number="4242424242424242", password="x")
        log.debug("not shown at INFO")
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["message"] == "checkout"
    assert line["app"] == "minishop" and line["service"] == "orders" and line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
    assert line["email"] == "a***@example.com"
    assert line["card_number"] == "[REDACTED]" and line["password"] == "[REDACTED]"
    assert "4242424242424242" not in stream.getvalue().decode()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_orders_succeed_while_the_otlp_endpoint_is_down(tmp_path: Path) -> None:
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{_closed_port()}/v1/traces", timeout=1)
    async with running_shop(tmp_path, span_exporter=exporter) as shop:
        async with shop.client() as client:
            for _ in range(5):
                response = await client.post("/order", json=order_body(quantity=1))
                assert response.status_code == 201, response.text
        telemetry = shop.apps["gateway"].state.telemetry
        assert telemetry.tracer_provider.force_flush(timeout_millis=10_000)
        async with shop.client() as client:
            text = (await client.get("/metrics")).text
    dropped = {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "otel_spans_dropped"
        for sample in family.samples
    }
    assert dropped.get("export_failed", 0) >= 10  # 5 requests x (server + client span), counted


def test_a_broken_log_stream_never_fails_the_caller() -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.attempts: list[bytes] = []

        def write(self, data: object) -> int:
            self.attempts.append(bytes(data))  # type: ignore[arg-type]
            raise BrokenPipeError("reader went away")

        def writable(self) -> bool:
            return True

    broken = Broken()
    configure_logging("orders", "INFO", stream=broken)
    assert structlog.get_logger("test").info("still fine") is None  # returned, did not raise
    logging.getLogger("uvicorn.error").warning("also through the bridge")
    # Both lines reached the broken stream (not filtered out before it) and were dropped there.
    messages = [orjson.loads(line)["message"] for line in broken.attempts]
    assert messages == ["still fine", "also through the bridge"]

    closed = io.BytesIO()
    closed.close()
    configure_logging("orders", "INFO", stream=closed)
    assert structlog.get_logger("test").error("still fine") is None

    # The pipeline itself is unharmed: a working stream gets the next line whole.
    healthy = io.BytesIO()
    configure_logging("orders", "INFO", stream=healthy)
    structlog.get_logger("test").warning("back")
    (line,) = healthy.getvalue().splitlines()
    assert orjson.loads(line)["message"] == "back"


async def test_every_answer_names_its_trace(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client() as client:
        response = await client.post("/order", json=order_body())
    version, trace_id, span_id, flags = response.headers["traceresponse"].split("-")
    assert version == "00"
    assert int(flags, 16) & 0x01  # sampled
    (root,) = [s for s in sqlite_shop.finished_spans() if s.name == "POST /order"]
    assert trace_id == format(root.context.trace_id, "032x")
    assert span_id == format(root.context.span_id, "016x")
