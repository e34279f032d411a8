"""The order and payment flows through the gateway, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from minishop.payments.domain.model import FAILURE_REASONS
from tests.support.flags import switch_off, switch_on
from tests.support.helpers import assert_problem, count, create_product, order_body, stock_of
from tests.support.shop import Shop


async def test_order_then_payment_marks_the_order_paid(shop: Shop) -> None:
    async with shop.client() as client:
        before = await stock_of(client, 1)
        created = await client.post("/order", json=order_body(product_id=1, quantity=2))
        assert created.status_code == 201, created.text
        order = created.json()
        assert order["status"] == "pending"
        assert order["total"] == 25.0  # seeded mug: 12.50 x 2
        assert await stock_of(client, 1) == before - 2

        paid = await client.post("/payment/pay", json={"order_id": order["order_id"]})
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "succeeded"
        assert paid.json()["amount"] == 25.0

        fetched = await client.get(f"/api/v1/orders/{order['order_id']}")
        assert fetched.json()["status"] == "paid"
        assert fetched.json()["payment_id"] == paid.json()["payment_id"]

        again = await client.post("/payment/pay", json={"order_id": order["order_id"]})
        assert_problem(again, 409)
        assert await count(client, "payments") == 1


async def test_declined_payment_is_a_402_and_the_order_can_be_paid_later(shop: Shop) -> None:
    async with shop.client("payments") as payments, shop.client() as client:
        order_id = (await client.post("/order", json=order_body())).json()["order_id"]
        switch_on(shop, "payment_failure", "100")

        declined = await client.post("/payment/pay", json={"order_id": order_id})
        assert declined.status_code == 402, declined.text
        assert declined.json()["status"] == "failed"
        assert declined.json()["reason"] in FAILURE_REASONS
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "payment_failed"

        metrics = (await payments.get("/metrics")).text
        assert 'error_total{method="POST",reason="' in metrics
        assert 'payments_total{reason="' in metrics

        switch_off(shop, "payment_failure")
        paid = await client.post("/payment/pay", json={"order_id": order_id})
        assert paid.status_code == 200, paid.text
        assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"


async def test_not_enough_stock_is_409_and_writes_nothing(shop: Shop) -> None:
    async with shop.client() as client:
        product_id = await create_product(client, "LAST-ONE", stock=1)
        orders_before = await count(client, "orders")
        refused = await client.post("/order", json=order_body(product_id=product_id, quantity=2))
        body = assert_problem(refused, 409)
        assert "Not enough stock" in body["detail"]
        assert await stock_of(client, product_id) == 1
        assert await count(client, "orders") == orders_before


async def test_multi_line_order_takes_all_stock_or_none(shop: Shop) -> None:
    async with shop.client() as client:
        plenty = await create_product(client, "PLENTY", stock=10, price=2.5)
        scarce = await create_product(client, "SCARCE", stock=1, price=4.0)
        body = {
            "user_id": 1,
            "items": [
                {"product_id": plenty, "quantity": 3},
                {"product_id": scarce, "quantity": 2},
            ],
        }
        assert_problem(await client.post("/order", json=body), 409)
        assert await stock_of(client, plenty) == 10
        assert await stock_of(client, scarce) == 1

        body["items"][1]["quantity"] = 1
        created = await client.post("/order", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["total"] == 11.5
        assert await stock_of(client, plenty) == 7
        assert await stock_of(client, scarce) == 0


async def test_idempotency_key_replays_and_refuses_a_different_body(shop: Shop) -> None:
    async with shop.client() as client:
        headers = {"Idempotency-Key": "order-abc-1"}
        first = await client.post("/order", json=order_body(quantity=1), headers=headers)
        second = await client.post("/order", json=order_body(quantity=1), headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json()["order_id"] == second.json()["order_id"]
        assert second.headers.get("idempotent-replayed") == "true"

        different = await client.post("/order", json=order_body(quantity=3), headers=headers)
        assert_problem(different, 422)

        pay_headers = {"Idempotency-Key": "pay-abc-1"}
        body = {"order_id": first.json()["order_id"]}
        charge = await client.post("/payment/pay", json=body, headers=pay_headers)
        repeat = await client.post("/payment/pay", json=body, headers=pay_headers)
        assert charge.status_code == repeat.status_code == 200
        assert charge.json()["payment_id"] == repeat.json()["payment_id"]
        assert await count(client, "payments") == 1


async def test_crud_routes_through_the_gateway(shop: Shop) -> None:
    async with shop.client() as client:
        user = await client.post(
            "/api/v1/users", json={"email": "Grace@Example.com", "name": "Grace Hopper"}
        )
        assert user.status_code == 201, user.text
        assert user.json()["email"] == "grace@example.com"
        user_id = user.json()["id"]
        assert (await client.get(f"/api/v1/users/{user_id}")).json()["name"] == "Grace Hopper"
        assert_problem(await client.get("/api/v1/users/424242"), 404)
        assert_problem(
            await client.post("/api/v1/users", json={"email": "grace@example.com", "name": "G"}),
            409,
        )

        product_id = await create_product(client, "CRUD-1", stock=5, price=3.25)
        product = (await client.get(f"/api/v1/products/{product_id}")).json()
        assert product == {"id": product_id, "sku": "CRUD-1", "name": "Product CRUD-1",
                           "price": 3.25, "stock": 5}  # fmt: skip
        listed = (await client.get("/api/v1/products", params={"ids": f"1,{product_id}"})).json()
        assert [item["id"] for item in listed["items"]] == [1, product_id]

        order = (await client.post("/order", json=order_body(product_id, 2, user_id))).json()
        mine = (await client.get("/api/v1/orders", params={"user_id": user_id})).json()
        assert [item["order_id"] for item in mine["items"]] == [order["order_id"]]
        payment = (await client.post("/payment/pay", json={"order_id": order["order_id"]})).json()
        by_order = await client.get("/api/v1/payments", params={"order_id": order["order_id"]})
        assert [item["payment_id"] for item in by_order.json()["items"]] == [payment["payment_id"]]
        fetched = await client.get(f"/api/v1/payments/{payment['payment_id']}")
        assert fetched.json()["status"] == "succeeded"


@pytest.mark.parametrize("path", ["/admin/flags", "/internal/inventory/deductions"])
async def test_internal_routes_are_not_reachable_through_the_gateway(shop: Shop, path: str) -> None:
    async with shop.client() as client:
        assert_problem(await client.get(path), 404)
