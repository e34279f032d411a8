"""Races the shop must win: the last units of stock, and repeated keys arriving together.

Run on both databases (the ``shop`` fixture); PostgreSQL is the one with real
parallel transactions, SQLite the embedded default.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.support.helpers import count, create_product, order_body, stock_of
from tests.support.shop import Shop


async def test_fifty_concurrent_orders_for_ten_units_sell_exactly_ten(shop: Shop) -> None:
    async with shop.client() as client:
        product_id = await create_product(client, "RACE-10", stock=10)
        responses = await asyncio.gather(
            *(client.post("/order", json=order_body(product_id, 1)) for _ in range(50))
        )
        statuses = Counter(response.status_code for response in responses)
        assert statuses == {201: 10, 409: 40}, [r.text for r in responses if r.status_code >= 500]
        assert await stock_of(client, product_id) == 0
        placed = {r.json()["order_id"] for r in responses if r.status_code == 201}
        assert len(placed) == 10
        listed = await client.get("/api/v1/orders", params={"limit": 100})
        assert {item["order_id"] for item in listed.json()["items"]} == placed


async def test_one_idempotency_key_sent_five_times_at_once_acts_once(shop: Shop) -> None:
    async with shop.client() as client:
        product_id = await create_product(client, "RACE-KEY", stock=100)
        headers = {"Idempotency-Key": "same-order-key"}
        created = await asyncio.gather(
            *(
                client.post("/order", json=order_body(product_id, 3), headers=headers)
                for _ in range(5)
            )
        )
        assert {response.status_code for response in created} == {201}
        order_ids = {response.json()["order_id"] for response in created}
        assert len(order_ids) == 1
        assert await count(client, "orders") == 1
        assert await stock_of(client, product_id) == 97

        (order_id,) = order_ids
        pay_headers = {"Idempotency-Key": "same-pay-key"}
        charged = await asyncio.gather(
            *(
                client.post("/payment/pay", json={"order_id": order_id}, headers=pay_headers)
                for _ in range(5)
            )
        )
        assert {response.status_code for response in charged} == {200}
        assert len({response.json()["payment_id"] for response in charged}) == 1
        assert await count(client, "payments") == 1


async def test_concurrent_payments_with_different_keys_charge_once(shop: Shop) -> None:
    async with shop.client() as client:
        order_id = (await client.post("/order", json=order_body())).json()["order_id"]
        charged = await asyncio.gather(
            *(client.post("/payment/pay", json={"order_id": order_id}) for _ in range(5))
        )
        statuses = Counter(response.status_code for response in charged)
        assert statuses[200] == 1, [r.text for r in charged]
        assert statuses[409] == 4
        assert await count(client, "payments") == 1
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "paid"
