"""The simulated supplier in the running shop: deliveries, and what a person sees of them."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
from opentelemetry.trace import SpanKind

from minishop.observability.logging import configure_logging
from tests.support.helpers import (
    create_product,
    order_body,
    statement,
    stock_of,
    wait_until_async,
)
from tests.support.shop import Shop, running_shop


async def test_the_supplier_restocks_low_products_and_leaves_the_others_alone(shop: Shop) -> None:
    stream = io.BytesIO()
    configure_logging("products", "INFO", stream=stream)
    async with shop.client() as client:
        low = await create_product(client, "LOW-1", stock=5)
        at_threshold = await create_product(client, "EDGE-1", stock=20)
        plenty = await create_product(client, "PLENTY-1", stock=50)
        seeded = await stock_of(client, 1)

        deliveries = await shop.apps["products"].state.supplier.restock_low()

        assert [(d.product_id, d.units, d.stock_after) for d in deliveries] == [(low, 95, 100)]
        assert await stock_of(client, low) == 100
        assert await stock_of(client, at_threshold) == 20
        assert await stock_of(client, plenty) == 50
        assert await stock_of(client, 1) == seeded
        assert await shop.apps["products"].state.supplier.restock_low() == []  # none low now

    products = (("service", "products"),)
    assert await shop.metric("products", "restocks") == {products: 1}
    assert await shop.metric("products", "restocked_units") == {products: 95}
    gauge = await shop.metric("products", "product_stock")
    assert gauge[(("product_id", str(low)), ("service", "products"))] == 100

    spans = shop.finished_spans()
    (round_span,) = [s for s in spans if s.name == "SupplierRestock"]
    assert round_span.parent is None  # a trace of its own, not part of a request
    assert round_span.resource.attributes["service.name"] == "products"
    (restock,) = [s for s in spans if s.name == "RestockProduct"]
    assert restock.parent.span_id == round_span.context.span_id
    assert restock.attributes["product.id"] == low
    assert restock.attributes["restock.units"] == 95
    assert restock.attributes["product.stock_after"] == 100
    (update,) = [
        s for s in spans if s.parent is not None and s.parent.span_id == restock.context.span_id
    ]
    assert update.kind == SpanKind.CLIENT and "UPDATE products" in statement(update)
    # The poll ran twice; it is housekeeping and left no span.
    polls = [s for s in spans if "SELECT" in statement(s) and "stock <" in statement(s)]
    assert polls == []

    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    (line,) = [line for line in lines if line["message"] == "product restocked"]
    assert (line["product_id"], line["units"], line["stock_after"]) == (low, 95, 100)
    assert line["trace_id"] == format(restock.context.trace_id, "032x")
    assert line["span_id"] == format(restock.context.span_id, "016x")


async def test_the_running_supplier_keeps_a_product_in_stock(tmp_path: Path) -> None:
    supplier = {"restock_interval_seconds": 0.1, "restock_threshold": 10, "restock_target": 30}
    async with (
        running_shop(tmp_path, record_spans=True, service_options={"products": supplier}) as shop,
        shop.client() as client,
    ):
        product_id = await create_product(client, "DRAINED-1", stock=3)

        async def back_to(units: int) -> bool:
            return await stock_of(client, product_id) == units

        await wait_until_async(
            lambda: back_to(30), timeout=10, interval=0.05, message="restocked to the target"
        )
        bought = await client.post("/order", json=order_body(product_id, 25))
        assert bought.status_code == 201, bought.text
        await wait_until_async(
            lambda: back_to(30), timeout=10, interval=0.05, message="restocked again"
        )
        spans = shop.finished_spans()  # while the shop runs: its exporter stops with it
    restocks = [s for s in spans if s.name == "RestockProduct"]
    assert [s.attributes["restock.units"] for s in restocks] == [27, 25]
    # Run by the background job, the deliveries are traced down to their statements.
    for restock in restocks:
        children = [s for s in spans if s.parent and s.parent.span_id == restock.context.span_id]
        assert ["UPDATE products" in statement(s) for s in children] == [True]
    assert not [s for s in spans if "SELECT" in statement(s) and "stock <" in statement(s)]
