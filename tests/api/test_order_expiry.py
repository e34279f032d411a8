"""Unpaid orders expire and give their stock back; paid and fresh ones are left alone."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from minishop.observability.logging import configure_logging
from tests.support.helpers import (
    assert_problem,
    count,
    create_product,
    order_body,
    statement,
    stock_of,
    wait_until_async,
)
from tests.support.shop import INTERNAL_HEADERS, Shop, running_shop


async def unpaid_for(shop: Shop, order_id: int, age: timedelta) -> None:
    """As if the order had waited ``age`` for its payment (rather than sleeping that long)."""
    async with shop.apps["orders"].state.database.transaction() as connection:
        await connection.execute(
            "UPDATE orders SET updated_at = $1 WHERE id = $2", datetime.now(UTC) - age, order_id
        )


async def status_of(shop: Shop, order_id: int) -> str:
    async with shop.client() as client:
        response = await client.get(f"/api/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    return response.json()["status"]


async def test_an_order_unpaid_past_the_timeout_expires_and_its_stock_comes_back(
    shop: Shop,
) -> None:
    stream = io.BytesIO()
    configure_logging("orders", "INFO", stream=stream)
    expiry = shop.apps["orders"].state.order_expiry
    async with shop.client() as client:
        product_id = await create_product(client, "EXPIRE-1", stock=10)
        stale = (await client.post("/order", json=order_body(product_id, 3))).json()["order_id"]
        fresh = (await client.post("/order", json=order_body(product_id, 1))).json()["order_id"]
        assert await stock_of(client, product_id) == 6
        await unpaid_for(shop, stale, timedelta(minutes=16))  # the default timeout is 15

        assert [order.id for order in await expiry.expire_unpaid()] == [stale]
        assert await status_of(shop, stale) == "expired"
        assert await status_of(shop, fresh) == "pending"  # nothing changes for a fresh order
        assert await stock_of(client, product_id) == 9
        assert await expiry.expire_unpaid() == []  # once only
        assert await stock_of(client, product_id) == 9

        refused = await client.post("/payment/pay", json={"order_id": stale})
        body = assert_problem(refused, 409)
        assert body["type"].endswith("order-not-payable")
        assert "expired" in body["detail"]
        assert await count(client, "payments") == 0
        paid = await client.post("/payment/pay", json={"order_id": fresh})
        assert paid.status_code == 200, paid.text

    assert await shop.metric("orders", "orders_expired") == {(("service", "orders"),): 1}
    releases = await shop.metric("products", "inventory_releases")
    assert releases == {(("service", "products"),): 1}

    spans = shop.finished_spans()
    (expire,) = [s for s in spans if s.name == "ExpireOrder"]
    assert expire.parent is None
    assert expire.attributes["order.id"] == stale
    assert expire.attributes["order.expiry_result"] == "expired"
    trace = [s for s in spans if s.context.trace_id == expire.context.trace_id]
    (release,) = [s for s in trace if s.name == "ReleaseInventory"]
    assert release.resource.attributes["service.name"] == "products"  # one trace, two services
    polls = [s for s in spans if "SELECT" in statement(s) and "updated_at <" in statement(s)]
    assert polls == []  # the poll (three rounds) is housekeeping

    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    (line,) = [line for line in lines if line["message"] == "order expired"]
    assert line["order_id"] == stale and line["status_before"] == "pending"
    assert line["trace_id"] == format(expire.context.trace_id, "032x")


async def test_a_declined_order_expires_and_a_new_attempt_restarts_its_clock(
    tmp_path: Path,
) -> None:
    async with running_shop(tmp_path, failure_rate=1.0) as shop, shop.client() as client:
        expiry = shop.apps["orders"].state.order_expiry
        product_id = await create_product(client, "DECLINED-1", stock=10)
        order_id = (await client.post("/order", json=order_body(product_id, 4))).json()["order_id"]
        await unpaid_for(shop, order_id, timedelta(hours=1))
        declined = await client.post("/payment/pay", json={"order_id": order_id})
        assert declined.status_code == 402, declined.text
        assert await expiry.expire_unpaid() == []  # the customer just tried: a new timeout
        assert await status_of(shop, order_id) == "payment_failed"

        await unpaid_for(shop, order_id, timedelta(hours=1))
        assert [order.id for order in await expiry.expire_unpaid()] == [order_id]
        assert await status_of(shop, order_id) == "expired"
        assert await stock_of(client, product_id) == 10


async def test_an_expiry_cut_short_is_finished_by_the_next_round(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    async with shop.client() as client:
        product_id = await create_product(client, "CUT-1", stock=10)
        order_id = (await client.post("/order", json=order_body(product_id, 2))).json()["order_id"]
        # As if the process died after winning the race and before giving the stock back.
        async with shop.apps["orders"].state.database.transaction() as connection:
            await connection.execute(
                "UPDATE orders SET status = 'expiring' WHERE id = $1", order_id
            )
        assert await status_of(shop, order_id) == "expiring"
        refused = await client.post("/payment/pay", json={"order_id": order_id})
        assert_problem(refused, 409)
        assert await stock_of(client, product_id) == 8

        expired = await shop.apps["orders"].state.order_expiry.expire_unpaid()
        assert [order.id for order in expired] == [order_id]
        assert await status_of(shop, order_id) == "expired"
        assert await stock_of(client, product_id) == 10
    assert await shop.metric("orders", "orders_expired") == {(("service", "orders"),): 1}


async def test_the_running_shop_expires_unpaid_orders_on_its_own(tmp_path: Path) -> None:
    orders = {"payment_timeout_seconds": 0.3, "expiry_interval_seconds": 0.1}
    async with (
        running_shop(tmp_path, record_spans=True, service_options={"orders": orders}) as shop,
        shop.client() as client,
    ):
        product_id = await create_product(client, "TIMEOUT-1", stock=10)
        order_id = (await client.post("/order", json=order_body(product_id, 5))).json()["order_id"]

        async def given_back() -> bool:
            return await stock_of(client, product_id) == 10

        await wait_until_async(given_back, timeout=10, interval=0.05, message="stock given back")
        assert await status_of(shop, order_id) == "expired"
        spans = shop.finished_spans()  # while the shop runs: its exporter stops with it
    (expire,) = [s for s in spans if s.name == "ExpireOrder"]
    # Run by the background job, the expiry is a real trace that reaches products.
    in_trace = {s.name for s in spans if s.context.trace_id == expire.context.trace_id}
    assert {"ExpireOrder", "POST products", "ReleaseInventory"} <= in_trace


async def test_a_charge_that_lost_the_race_to_the_expiry_is_refused_and_said(
    sqlite_shop: Shop,
) -> None:
    """Payments checked the order, then it expired before the charge's outcome arrived."""
    shop = sqlite_shop
    stream = io.BytesIO()
    configure_logging("orders", "INFO", stream=stream)
    async with shop.client() as client, shop.client("orders") as orders:
        product_id = await create_product(client, "LATE-1", stock=10)
        order_id = (await client.post("/order", json=order_body(product_id, 2))).json()["order_id"]
        await unpaid_for(shop, order_id, timedelta(hours=1))
        await shop.apps["orders"].state.order_expiry.expire_unpaid()

        for succeeded in (False, True):
            late = await orders.post(
                f"/internal/orders/{order_id}/payment-result",
                json={"payment_id": f"late-{succeeded}", "succeeded": succeeded},
                headers=INTERNAL_HEADERS,
            )
            assert assert_problem(late, 409)["type"].endswith("order-not-payable")
        assert await status_of(shop, order_id) == "expired"
        assert await stock_of(client, product_id) == 10
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    refunds = [line for line in lines if "refund due" in line["message"]]
    assert [(line["order_id"], line["payment_id"]) for line in refunds] == [(order_id, "late-True")]
    assert refunds[0]["level"] == "warning"
