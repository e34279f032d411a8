"""Bad input gets a clear 4xx problem and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from minishop.orders.adapters.clients import HttpInventory, HttpUserDirectory
from minishop.orders.domain.model import (
    DependencyUnavailable,
    InvalidOrder,
    RequestedLine,
    Reservation,
    UnknownProducts,
)
from tests.support.helpers import assert_problem, count, create_product, order_body, stock_of
from tests.support.shop import INTERNAL_HEADERS, PUBLIC_SERVICES, Shop, running_shop

BEYOND_INT32 = 2**31
BEYOND_INT64 = 2**63

COLLECTIONS = PUBLIC_SERVICES
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
    # Integers beyond what the INTEGER columns hold (PostgreSQL's int4 is the smaller range).
    ("user id beyond int32", "/order", order_body(user_id=BEYOND_INT32), 422),
    ("product id beyond int32", "/order", order_body(product_id=BEYOND_INT32), 422),
    ("product id beyond int64", "/order", order_body(product_id=BEYOND_INT64), 422),
    ("quantity beyond int64", "/order", order_body(quantity=BEYOND_INT64), 422),
    ("pay order beyond int32", "/payment/pay", {"order_id": BEYOND_INT32}, 422),
    ("pay order beyond int64", "/payment/pay", {"order_id": BEYOND_INT64}, 422),
    ("stock beyond int32", "/api/v1/products", {"sku": "B", "name": "B", "price": 1, "stock": BEYOND_INT32}, 422),
    # Money beyond the cents column, or not money at all.
    ("price beyond the column", "/api/v1/products", {"sku": "M", "name": "M", "price": 1e12, "stock": 1}, 422),
    ("price beyond int64 cents", "/api/v1/products", {"sku": "M", "name": "M", "price": 1e20, "stock": 1}, 422),
    ("price as a string", "/api/v1/products", {"sku": "M", "name": "M", "price": "12.50", "stock": 1}, 422),
    ("price as a boolean", "/api/v1/products", {"sku": "M", "name": "M", "price": True, "stock": 1}, 422),
    ("price infinite", "/api/v1/products", b'{"sku": "M", "name": "M", "price": Infinity, "stock": 1}', 422),
    ("price NaN", "/api/v1/products", b'{"sku": "M", "name": "M", "price": NaN, "stock": 1}', 422),
    # Lax types: "1", true and 1.0 are not ids or quantities.
    ("user id as a string", "/order", {"user_id": "1", "items": [{"product_id": 1, "quantity": 1}]}, 422),
    ("user id as true", "/order", {"user_id": True, "items": [{"product_id": 1, "quantity": 1}]}, 422),
    ("user id as 1.0", "/order", {"user_id": 1.0, "items": [{"product_id": 1, "quantity": 1}]}, 422),
    ("product id as a string", "/order", order_body(product_id="1"), 422),  # type: ignore[arg-type]
    ("quantity as a string", "/order", order_body(quantity="1"), 422),  # type: ignore[arg-type]
    ("quantity as true", "/order", order_body(quantity=True), 422),
    ("quantity as 1.0", "/order", order_body(quantity=1.0), 422),  # type: ignore[arg-type]
    ("stock as true", "/api/v1/products", {"sku": "T", "name": "T", "price": 1, "stock": True}, 422),
    ("pay order as a string", "/payment/pay", {"order_id": "1"}, 422),
    ("pay order as true", "/payment/pay", {"order_id": True}, 422),
    ("pay order as 1.0", "/payment/pay", {"order_id": 1.0}, 422),
    # One product's units add up across lines.
    ("one product beyond the quantity limit", "/order", {"user_id": 1, "items": [{"product_id": 1, "quantity": 10_000}] * 2}, 422),
    # Characters the storage cannot keep: NUL (PostgreSQL) and lone surrogates (no UTF-8).
    ("NUL in a user's email", "/api/v1/users", {"email": "nul\u0000@example.com", "name": "N"}, 422),
    ("NUL in a user's name", "/api/v1/users", {"email": "nul@example.com", "name": "A\u0000B"}, 422),
    ("lone surrogate in a name", "/api/v1/users", b'{"email": "s@example.com", "name": "A\\ud800B"}', 422),
    ("NUL in a sku", "/api/v1/products", {"sku": "N\u0000", "name": "N", "price": 1, "stock": 1}, 422),
    ("NUL in a product name", "/api/v1/products", {"sku": "NN", "name": "N\u0000", "price": 1, "stock": 1}, 422),
    ("NUL in a card number", "/payment/pay", {"order_id": 1, "card_number": "4242\u00004242424242"}, 422),
    # str.isdigit() is true for these; a card number is ASCII digits.
    ("Arabic-Indic digits as a card", "/payment/pay", {"order_id": 1, "card_number": "\u0664" * 16}, 422),
    ("superscript digits as a card", "/payment/pay", {"order_id": 1, "card_number": "\u00b2" * 16}, 422),
    ("fullwidth digits as a card", "/payment/pay", {"order_id": 1, "card_number": "\uff14" * 16}, 422),
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


async def snapshot(client: httpx.AsyncClient) -> dict[str, int]:
    """What a refused request must leave as it was: every collection's size, product 1's stock."""
    sizes = {name: await count(client, name) for name in COLLECTIONS}
    return {**sizes, "stock": await stock_of(client, 1)}


PATHS_NAMING_NOTHING = [
    # An id that cannot exist is answered like a missing one: 404, database untouched.
    "/api/v1/users/2147483648",
    "/api/v1/users/9223372036854775808",
    "/api/v1/users/0",
    "/api/v1/users/-1",
    "/api/v1/products/2147483648",
    "/api/v1/products/99999999999999999999999999",
    "/api/v1/orders/2147483648",
    "/api/v1/orders/-9223372036854775809",
    "/api/v1/payments/%00",
    "/api/v1/payments/" + "x" * 37,
]


@pytest.mark.parametrize("path", PATHS_NAMING_NOTHING)
async def test_a_path_id_no_row_can_have_is_a_404(shop: Shop, path: str) -> None:
    async with shop.client(_owner(path)) as service:
        assert_problem(await service.get(path), 404)
    async with shop.client() as gateway:
        _assert_refused_by_gateway_or_service(await gateway.get(path), 404)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/abc", "/api/v1/products/1.5", "/api/v1/orders/1e3", "/api/v1/orders/true"],
)
async def test_a_path_id_that_is_not_an_integer_is_a_422(sqlite_shop: Shop, path: str) -> None:
    async with sqlite_shop.client(_owner(path)) as service:
        assert_problem(await service.get(path), 422)
    async with sqlite_shop.client() as gateway:
        _assert_refused_by_gateway_or_service(await gateway.get(path), 422)


def _owner(path: str) -> str:
    """The service that answers ``/api/v1/<service>/...``."""
    return path.split("/")[3]


def _assert_refused_by_gateway_or_service(response: httpx.Response, status: int) -> None:
    """The gateway forwards only paths in normal form: a '.', '%' or control character is
    its own 400 ``invalid-path``; any other path gets the service's answer."""
    if response.status_code == 400:
        assert assert_problem(response, 400)["type"] == "invalid-path"
    else:
        assert_problem(response, status)


QUERIES_OUT_OF_RANGE = [
    ("/api/v1/orders", {"user_id": BEYOND_INT32}),
    ("/api/v1/orders", {"user_id": 0}),
    ("/api/v1/payments", {"order_id": BEYOND_INT64}),
    ("/api/v1/products", {"ids": f"1,{BEYOND_INT32}"}),
    ("/api/v1/products", {"ids": "1,\u0663"}),  # an Arabic-Indic 3: int() would take it
    ("/api/v1/products", {"ids": "+1"}),
    ("/api/v1/products", {"ids": ",".join(str(n) for n in range(1, 102))}),
    ("/api/v1/users", {"offset": BEYOND_INT64}),
    ("/api/v1/users", {"offset": BEYOND_INT32}),
    ("/api/v1/users", {"limit": 101}),
]


@pytest.mark.parametrize(("path", "params"), QUERIES_OUT_OF_RANGE)
async def test_a_query_value_beyond_its_range_is_a_422(
    shop: Shop, path: str, params: dict[str, object]
) -> None:
    async with shop.client() as client:
        assert_problem(await client.get(path, params=params), 422)


async def test_a_release_for_an_id_no_reservation_can_have_releases_nothing(shop: Shop) -> None:
    async with shop.client("products") as products:
        stock = await stock_of(products, 1)
        for reservation_id in ("%00", "r" * 65):
            response = await products.post(
                f"/internal/inventory/deductions/{reservation_id}/release",
                headers=INTERNAL_HEADERS,
            )
            assert response.status_code == 200, response.text
            assert response.json()["released"] is False
        assert await stock_of(products, 1) == stock


async def test_an_order_whose_total_the_column_cannot_hold_is_a_422(shop: Shop) -> None:
    async with shop.client() as client:
        dear = await create_product(client, "DEAR-1", stock=100_000, price=10_000_000)
        before = await snapshot(client)
        response = await client.post("/order", json=order_body(product_id=dear, quantity=1_000))
        body = assert_problem(response, 422)
        assert "total" in body["detail"]
        assert await snapshot(client) == before
        assert await stock_of(client, dear) == 100_000


async def test_an_idempotent_replay_with_the_json_reordered_is_the_same_request(
    shop: Shop,
) -> None:
    async with shop.client() as client:
        headers = {"Idempotency-Key": "reordered-1", "content-type": "application/json"}
        first = await client.post(
            "/order",
            content=b'{"user_id": 1, "items": [{"product_id": 1, "quantity": 2}]}',
            headers=headers,
        )
        assert first.status_code == 201, first.text
        after_first = await snapshot(client)
        for variant in (
            b'{"items":[{"quantity":2,"product_id":1}],"user_id":1}',
            b'{\n  "items" : [ { "quantity" : 2 , "product_id" : 1 } ] ,\n  "user_id" : 1\n}',
        ):
            again = await client.post("/order", content=variant, headers=headers)
            assert again.status_code == 201, again.text
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json() == first.json()
        assert await snapshot(client) == after_first

        different = await client.post("/order", json=order_body(quantity=3), headers=headers)
        assert_problem(different, 422)
        assert await snapshot(client) == after_first


class ProblemFor(httpx.AsyncBaseTransport):
    """A transport answering ``status`` with a problem for requests ``matches`` picks."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, status: int, matches: str, type_: str
    ) -> None:
        self._inner = inner
        self._status = status
        self._matches = matches
        self._type = type_

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.startswith(self._matches):
            body = {"type": self._type, "title": "t", "status": self._status, "detail": "no"}
            return httpx.Response(
                self._status, json=body, headers={"content-type": "application/problem+json"}
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_422_from_orders_is_a_404_to_the_payer_not_a_503(tmp_path: Path) -> None:
    def refuse_orders(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return ProblemFor(inner, 422, "/api/v1/orders/", "validation-error")

    async with (
        running_shop(tmp_path, orders_link=refuse_orders) as shop,
        shop.client() as client,
    ):
        order_id = (await client.post("/order", json=order_body())).json()["order_id"]
        before = await snapshot(client)
        response = await client.post("/payment/pay", json={"order_id": order_id})
        assert_problem(response, 404)
        assert await snapshot(client) == before


def answering(status: int, body: object) -> httpx.AsyncClient:
    content = json.dumps(body).encode()
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            status, content=content, headers={"content-type": "application/problem+json"}
        )
    )
    return httpx.AsyncClient(transport=transport, base_url="http://downstream")


@pytest.mark.parametrize("status", [404, 422])
async def test_users_answering_404_or_422_means_no_such_user(status: int) -> None:
    async with answering(status, {"type": "validation-error", "detail": "bad id"}) as client:
        assert await HttpUserDirectory(client).exists(7) is False


async def test_products_not_knowing_a_product_of_the_deduction_means_unknown_products() -> None:
    problem = {"type": "product-not-found", "detail": "no product 8", "product_id": 8}
    async with answering(404, problem) as client:
        with pytest.raises(UnknownProducts) as raised:
            await HttpInventory(client).deduct(
                Reservation("r-1", (RequestedLine(7, 1), RequestedLine(8, 1)))
            )
    assert raised.value.product_ids == [8]


@pytest.mark.parametrize(
    "items",
    [
        [{"product_id": 7, "quantity": 1}],  # no price: an older products
        [{"product_id": 7, "quantity": 1, "unit_price": "lots"}],
        [{"product_id": 7, "quantity": 1, "unit_price": None}],
        [{"product_id": 8, "quantity": 1, "unit_price": 9.99}],  # not the product asked for
        "none",
    ],
)
async def test_a_deduction_answered_without_readable_prices_is_products_unavailable(
    items: object,
) -> None:
    """The stock was taken but the order cannot be priced: a 503, and the caller gives the
    stock back (the use case's business), never an order priced at nothing."""
    body = {"reservation_id": "r-1", "items": items, "replayed": False}
    async with answering(201, body) as client:
        with pytest.raises(DependencyUnavailable, match="products"):
            await HttpInventory(client).deduct(Reservation("r-1", (RequestedLine(7, 1),)))


async def test_a_deduction_answers_each_product_s_unit_price_in_cents() -> None:
    items = [
        {"product_id": 7, "quantity": 2, "unit_price": 9.99},
        {"product_id": 8, "quantity": 1, "unit_price": 0.29},
    ]
    body = {"reservation_id": "r-1", "items": items, "replayed": True}
    async with answering(200, body) as client:
        prices = await HttpInventory(client).deduct(
            Reservation("r-1", (RequestedLine(7, 2), RequestedLine(8, 1)))
        )
    assert prices == {7: 999, 8: 29}


async def test_the_inventory_refusing_a_deduction_is_an_invalid_order() -> None:
    problem = {"type": "invalid-deduction", "detail": "quantity must be between 1 and 10000"}
    async with answering(422, problem) as client:
        with pytest.raises(InvalidOrder, match="quantity"):
            await HttpInventory(client).deduct(Reservation("r-1", (RequestedLine(1, 1),)))


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Request-ID", "Accept", "Content-Type"])
async def test_a_forwarded_header_that_is_not_ascii_is_a_400_and_creates_nothing(
    sqlite_shop: Shop, header: str
) -> None:
    """The gateway decodes header bytes as latin-1 but could not send them on: a 400, not a 500."""
    async with sqlite_shop.client() as client:
        before = await snapshot(client)
        headers = {header: b"k\xe9y"}
        response = await client.post("/order", json=order_body(), headers=headers)
        assert assert_problem(response, 400)["type"] == "invalid-header"
        assert header.lower() in response.json()["detail"]
        got = await client.get("/api/v1/products/1", headers={header: b"\xe9"})
        assert assert_problem(got, 400)["type"] == "invalid-header"
        assert await snapshot(client) == before
