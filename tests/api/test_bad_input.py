"""Bad input gets a clear 4xx problem and changes nothing."""

from __future__ import annotations

import pytest

from tests.support.helpers import assert_problem, count, stock_of
from tests.support.shop import Shop

COLLECTIONS = ("users", "products", "orders", "payments")
OVERSIZED = b'{"user_id": 1, "items": [' + b'{"product_id": 1, "quantity": 1},' * 4000 + b"]}"

CASES = [
    # (name, method, path, raw body or json, expected status)
    ("malformed JSON", "/order", b'{"user_id": 1, "items": [', 422),
    ("not JSON at all", "/order", b"user_id=1", 422),
    ("missing fields", "/order", {}, 422),
    ("missing items", "/order", {"user_id": 1}, 422),
    ("no items", "/order", {"user_id": 1, "items": []}, 422),
    ("zero quantity", "/order", {"user_id": 1, "items": [{"product_id": 1, "quantity": 0}]}, 422),
    ("negative quantity", "/order", {"user_id": 1, "items": [{"product_id": 1, "quantity": -3}]}, 422),
    ("huge quantity", "/order", {"user_id": 1, "items": [{"product_id": 1, "quantity": 10**9}]}, 422),
    ("string quantity", "/order", {"user_id": 1, "items": [{"product_id": 1, "quantity": "two"}]}, 422),
    ("unknown product", "/order", {"user_id": 1, "items": [{"product_id": 99999, "quantity": 1}]}, 422),
    ("unknown user", "/order", {"user_id": 99999, "items": [{"product_id": 1, "quantity": 1}]}, 422),
    ("negative user", "/order", {"user_id": -1, "items": [{"product_id": 1, "quantity": 1}]}, 422),
    ("unexpected field", "/order", {"user_id": 1, "items": [], "discount": 100}, 422),
    ("oversized body", "/order", OVERSIZED, 413),
    ("pay malformed JSON", "/payment/pay", b"{", 422),
    ("pay missing order", "/payment/pay", {}, 422),
    ("pay zero order", "/payment/pay", {"order_id": 0}, 422),
    ("pay unknown order", "/payment/pay", {"order_id": 99999}, 404),
    ("pay bad card", "/payment/pay", {"order_id": 99999, "card_number": "12ab"}, 422),
    ("user bad email", "/api/v1/users", {"email": "not-an-address", "name": "X"}, 422),
    ("user blank name", "/api/v1/users", {"email": "a@b.io", "name": "   "}, 422),
    ("user missing name", "/api/v1/users", {"email": "a@b.io"}, 422),
    ("product negative price", "/api/v1/products", {"sku": "N", "name": "N", "price": -1, "stock": 1}, 422),
    ("product zero price", "/api/v1/products", {"sku": "Z", "name": "Z", "price": 0, "stock": 1}, 422),
    ("product negative stock", "/api/v1/products", {"sku": "S", "name": "S", "price": 1, "stock": -1}, 422),
    ("product sub-cent price", "/api/v1/products", {"sku": "C", "name": "C", "price": 1.001, "stock": 1}, 422),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    shop: Shop, path: str, body: bytes | dict, status: int
) -> None:
    async with shop.client() as client:
        before = {name: await count(client, name) for name in COLLECTIONS}
        stock_before = await stock_of(client, 1)
        if isinstance(body, bytes):
            response = await client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
        else:
            response = await client.post(path, json=body)
        assert_problem(response, status)
        assert {name: await count(client, name) for name in COLLECTIONS} == before
        assert await stock_of(client, 1) == stock_before


async def test_idempotency_key_too_long_is_refused(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client() as client:
        response = await client.post(
            "/order",
            json={"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]},
            headers={"Idempotency-Key": "k" * 300},
        )
        assert_problem(response, 400)
        assert await count(client, "orders") == 0


async def test_unknown_route_and_method_are_problems(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client() as client:
        assert_problem(await client.get("/nowhere"), 404)
        assert_problem(await client.get("/order"), 405)


async def test_an_oversized_streamed_body_is_refused_too(sqlite_shop: Shop) -> None:
    async def chunks():
        yield b'{"email": "big@example.com", "name": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    async with sqlite_shop.client("users") as client:
        before = await count(client, "users")
        response = await client.post(
            "/api/v1/users", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413)
        assert await count(client, "users") == before
