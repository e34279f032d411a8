"""``product_db_error PRODUCT_ID``: database errors for that product only, on both databases.

The needle in the haystack: reads and stock changes of one product fail with a real
database error (503 ``database-unavailable``, an ERROR database span, a log line naming
the product), every other product works, and an order holding it fails cleanly.
"""

from __future__ import annotations

import io

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from minishop.observability.logging import configure_logging, get_logger
from minishop.products.adapters import faults as product_faults
from tests.support.flags import switch_off, switch_on
from tests.support.helpers import assert_problem, count, create_product, order_body, stock_of
from tests.support.observed import flag_events, log_lines, value
from tests.support.shop import INTERNAL_HEADERS, Shop


async def test_one_products_statements_fail_and_the_others_work(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.BytesIO()
    configure_logging("products", "INFO", stream=stream)
    monkeypatch.setattr(product_faults, "_log", get_logger("minishop.products"))  # see payments
    async with shop.client() as client, shop.client("products") as products:
        needle = await create_product(client, "NEEDLE", stock=10)
        before = await stock_of(client, 1)
        switch_on(shop, "product_db_error", str(needle))

        failed = await client.get(f"/api/v1/products/{needle}")
        assert assert_problem(failed, 503)["type"] == "database-unavailable"
        assert await stock_of(client, 1) == before  # every other product works
        listed = await client.get("/api/v1/products", params={"ids": f"1,{needle}"})
        assert_problem(listed, 503)
        assert (await client.get("/api/v1/products")).status_code == 200  # browsing is fine

        deduction = {
            "reservation_id": "needle-1",
            "items": [{"product_id": 1, "quantity": 3}, {"product_id": needle, "quantity": 1}],
        }
        refused = await products.post(
            "/internal/inventory/deductions", json=deduction, headers=INTERNAL_HEADERS
        )
        assert_problem(refused, 503)
        metrics = (await products.get("/metrics")).text
        assert value(metrics, "error_total", route="/api/v1/products/{product_id}") == 1
        assert value(metrics, "error_total", route="/internal/inventory/deductions") == 1

        switch_off(shop, "product_db_error")
        assert await stock_of(client, needle) == 10  # the failed deduction took nothing
        assert await stock_of(client, 1) == before

    spans = shop.finished_spans()
    (server,) = [
        span
        for span in spans
        if span.kind is SpanKind.SERVER
        and span.name == "GET /api/v1/products/{product_id}"
        and span.attributes.get("http.response.status_code") == 503
    ]
    assert server.attributes["product.id"] == needle
    assert server.status.status_code is StatusCode.ERROR
    (event,) = flag_events(server, "product_db_error")
    assert event["feature_flag.result.value"] == needle
    failing_statements = [
        span
        for span in spans
        if span.parent is not None
        and span.parent.span_id == server.context.span_id
        and "db.query.text" in span.attributes
    ]
    (statement,) = failing_statements  # the product's read never ran: the fault failed first
    assert statement.status.status_code is StatusCode.ERROR
    assert "error.type" in statement.attributes
    (deduct,) = [span for span in spans if span.name == "DeductInventory"]
    assert deduct.status.status_code is StatusCode.ERROR
    assert deduct.attributes["product.id"] == needle
    assert [e for e in deduct.events if e.name == "exception"]

    lines = [
        line
        for line in log_lines(stream.getvalue().decode())
        if line.get("message") == f"database error on product {needle}"
    ]
    assert len(lines) == 3, lines  # the read, the ids lookup, the deduction
    assert all(line["product_id"] == needle and line["level"] == "error" for line in lines)


async def test_an_order_holding_the_product_fails_cleanly(shop: Shop) -> None:
    async with shop.client() as client:
        needle = await create_product(client, "NEEDLE", stock=10)
        other = await create_product(client, "HAY", stock=10)
        orders_before = await count(client, "orders")
        switch_on(shop, "product_db_error", str(needle))
        body = {
            "user_id": 1,
            "items": [{"product_id": other, "quantity": 2}, {"product_id": needle, "quantity": 1}],
        }
        refused = await client.post("/order", json=body)
        assert_problem(refused, 503)
        fine = await client.post("/order", json=order_body(product_id=other, quantity=1))
        assert fine.status_code == 201, fine.text

        switch_off(shop, "product_db_error")
        assert await stock_of(client, needle) == 10  # no stock lost
        assert await stock_of(client, other) == 9  # only the order that worked took some
        orders = (await client.get("/api/v1/orders", params={"limit": 100})).json()["items"]
        assert len(orders) == orders_before + 1
        assert all(order["status"] != "reserving" for order in orders)
        placed = await client.post("/order", json=body)  # off: the same order goes through
        assert placed.status_code == 201, placed.text
