"""Races of a shop that runs for hours: a delivery against orders taking the same stock,
and an order's expiry against its payment (a charge that lands after the expiry is refunded).

On both databases (the ``shop`` fixture): PostgreSQL runs the transactions truly in
parallel, SQLite serialises them at whatever point each one reaches its write. The tests of
one interleaving that only PostgreSQL allows (SQLite's single pooled connection makes a
payment wait until the expiry's poll is done) run on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from minishop.observability.logging import configure_logging
from minishop.orders.adapters.repository import SqlOrderRepository
from minishop.platform.sql import Connection, Database
from tests.support.helpers import create_product, order_body, stock_of
from tests.support.shop import INTERNAL_HEADERS, Shop

ROUNDS = 10
ON_POSTGRESQL = pytest.mark.parametrize(
    "database_settings", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
STAGGER_SECONDS = 0.004
"""The expiry starts a little later each round, so that across the rounds it lands before,
during and after the payment's steps (in-process, a payment takes a few tens of ms)."""


async def test_orders_taking_stock_during_a_restock_never_lose_units(shop: Shop) -> None:
    supplier = shop.apps["products"].state.supplier
    async with shop.client() as client, shop.client("products") as products:
        for round_number in range(ROUNDS):
            product_id = await create_product(client, f"RESTOCK-RACE-{round_number}", stock=15)

            async def take_one(index: int, product_id: int = product_id) -> int:
                body = {
                    "reservation_id": f"race-{product_id}-{index}",
                    "items": [{"product_id": product_id, "quantity": 1}],
                }
                response = await products.post(
                    "/internal/inventory/deductions", json=body, headers=INTERNAL_HEADERS
                )
                assert response.status_code in (201, 409), response.text
                return 1 if response.status_code == 201 else 0

            # 20 orders of one unit against 15 in stock: enough only if the delivery lands.
            takers = [take_one(index) for index in range(20)]
            deliveries, *taken = await asyncio.gather(supplier.restock_low(), *takers)
            delivered = sum(d.units for d in deliveries if d.product_id == product_id)
            # Whatever the interleaving: every unit taken and every unit delivered counts.
            assert await stock_of(client, product_id) == 15 - sum(taken) + delivered
            assert 85 <= delivered <= 100, delivered  # what the poll saw missing


async def test_a_payment_racing_the_expiry_has_exactly_one_outcome(shop: Shop) -> None:
    expiry = shop.apps["orders"].state.order_expiry

    async def expire_after(delay: float) -> list:
        await asyncio.sleep(delay)
        return await expiry.expire_unpaid()

    outcomes: Counter[str] = Counter()
    refunded: set[int] = set()
    stream = io.BytesIO()
    configure_logging("orders", "INFO", stream=stream)
    async with shop.client() as client:
        product_id = await create_product(client, "EXPIRY-RACE", stock=1000)
        for round_number in range(ROUNDS):
            placed = await client.post("/order", json=order_body(product_id, 2))
            assert placed.status_code == 201, placed.text
            order_id = placed.json()["order_id"]
            await unpaid_for_an_hour(shop, order_id)
            held = await stock_of(client, product_id)

            payment, expired = await asyncio.gather(
                client.post("/payment/pay", json={"order_id": order_id}),
                expire_after(round_number * STAGGER_SECONDS),
            )

            status = (await client.get(f"/api/v1/orders/{order_id}")).json()["status"]
            stock = await stock_of(client, product_id)
            expired_ids = [order.id for order in expired]
            if status == "paid":  # the payment won: the stock stays sold
                assert stock == held and expired_ids == [], (stock, held, expired_ids)
                assert payment.status_code == 200, payment.text
            else:  # the expiry won: the stock is back, and the order refuses the payment
                assert status == "expired", status
                assert stock == held + 2 and expired_ids == [order_id]
                problem = payment.json()
                assert payment.status_code == 409, payment.text
                if problem["type"].endswith("order-closed"):  # charged after its check
                    refunded.add(order_id)
                else:  # refused before any charge
                    assert problem["type"].endswith("order-not-payable"), problem
            # Never money kept for an order that is not paid: its charge was given back.
            charges = (await client.get("/api/v1/payments", params={"order_id": order_id})).json()
            kept = [p for p in charges["items"] if p["status"] == "succeeded"]
            assert len(kept) == (1 if status == "paid" else 0), charges
            if order_id in refunded:
                assert [(p["status"], p["reason"]) for p in charges["items"]] == [
                    ("refunded", "order_closed")
                ]
            outcomes[status] += 1
            # Either way, nothing moves afterwards.
            assert await expiry.expire_unpaid() == []
            again = await client.post("/payment/pay", json={"order_id": order_id})
            assert again.status_code == 409, again.text
            assert await stock_of(client, product_id) == stock
    assert sum(outcomes.values()) == ROUNDS, outcomes
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    said = {line["order_id"] for line in lines if "refund due" in line["message"]}
    assert said == refunded  # orders says a refund is due, and payments made it
    made = {
        line["order_id"] for line in lines if line["message"] == "payment refunded: order closed"
    }
    assert made == refunded
    counted = await shop.metric("payments", "refunds")
    assert sum(counted.values()) == len(refunded), counted


async def unpaid_for_an_hour(shop: Shop, order_id: int) -> None:
    async with shop.apps["orders"].state.database.transaction() as connection:
        await connection.execute(
            "UPDATE orders SET updated_at = $1 WHERE id = $2",
            datetime.now(UTC) - timedelta(hours=1),
            order_id,
        )


@contextmanager
def paid_between_the_polls_statements(database: Database, order_id: int) -> Iterator[None]:
    """Commit the order's payment right after the expiry's poll selected its id and before
    the next statement on that connection reads its row.

    That is what READ COMMITTED allows when a payment races the expiry: each statement sees
    what committed before it began, so the row read second is already ``paid``. The race
    test meets it about once in ten runs; here it happens every time.
    """
    polled: list[str] = []
    reads = database.connection

    async def pay_if_polled() -> None:
        if polled == ["polled"]:
            polled.append("paid")
            async with database.transaction() as other:  # a second connection, committed
                await other.execute(
                    "UPDATE orders SET status = 'paid', payment_id = 'paid-meanwhile',"
                    " updated_at = $1 WHERE id = $2",
                    datetime.now(UTC),
                    order_id,
                )

    class Interleaved:
        """The reads' connection, with the payment committed before the statement that
        follows the poll."""

        def __init__(self, inner: Connection) -> None:
            self._inner = inner

        async def fetch(self, sql: str, *args: object) -> list:
            await pay_if_polled()
            rows = await self._inner.fetch(sql, *args)
            if "updated_at <" in sql and not polled:
                polled.append("polled")
            return rows

    @asynccontextmanager
    async def interleaved() -> AsyncIterator[Interleaved]:
        async with reads() as connection:
            yield Interleaved(connection)

    database.connection = interleaved  # type: ignore[method-assign]
    try:
        yield
    finally:
        del database.connection
    assert polled[1:] == ["paid"], "the payment did not land between the two statements"


async def unpaid_order(shop: Shop, name: str) -> tuple[int, int]:
    """A product with 10 units and an order for 2 of them, unpaid for an hour."""
    async with shop.client() as client:
        product_id = await create_product(client, name, stock=10)
        placed = await client.post("/order", json=order_body(product_id, 2))
        assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    await unpaid_for_an_hour(shop, order_id)
    return product_id, order_id


@ON_POSTGRESQL
async def test_an_order_paid_between_the_poll_and_its_read_keeps_its_stock(shop: Shop) -> None:
    product_id, order_id = await unpaid_order(shop, "PAID-MEANWHILE-1")
    with paid_between_the_polls_statements(shop.apps["orders"].state.database, order_id):
        assert await shop.apps["orders"].state.order_expiry.expire_unpaid() == []
    async with shop.client() as client:
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "paid"
        assert await stock_of(client, product_id) == 8  # sold, not given back
    released = await shop.metric("products", "inventory_releases")
    assert sum(released.values()) == 0, released


@ON_POSTGRESQL
async def test_the_expiry_poll_returns_no_order_paid_since_it_selected_it(shop: Shop) -> None:
    _, order_id = await unpaid_order(shop, "PAID-MEANWHILE-2")
    database = shop.apps["orders"].state.database
    with paid_between_the_polls_statements(database, order_id):
        polled = await SqlOrderRepository(database).expiry_candidates(datetime.now(UTC), 10)
    assert polled == []
