"""A charge that lands on a closed order is refunded: 409 ``order-closed``, payment ``refunded``.

The order expires between the payment's check and the charge's outcome: the payments ->
orders link runs the expiry just before the payment-result call reaches orders.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from minishop.observability.logging import configure_logging
from tests.support.helpers import (
    assert_problem,
    create_product,
    order_body,
    stock_of,
    wait_until_async,
)
from tests.support.shop import Shop, running_shop

PAYMENTS = (("service", "payments"),)


class PaymentResultLink(httpx.AsyncBaseTransport):
    """The payments -> orders link: runs ``before_result`` before a payment-result call,
    or fails that call while ``cut``."""

    def __init__(self, wrapped: httpx.AsyncBaseTransport) -> None:
        self.wrapped = wrapped
        self.before_result: Callable[[], Awaitable[object]] | None = None
        self.cut = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/payment-result"):
            if self.cut:
                raise httpx.ConnectError("link down", request=request)
            if self.before_result is not None:
                await self.before_result()
        return await self.wrapped.handle_async_request(request)


async def make_overdue(shop: Shop, order_id: int) -> None:
    """As if the order had waited an hour for its payment (past the 15 min timeout)."""
    async with shop.apps["orders"].state.database.transaction() as connection:
        await connection.execute(
            "UPDATE orders SET updated_at = $1 WHERE id = $2",
            datetime.now(UTC) - timedelta(hours=1),
            order_id,
        )


async def expire(shop: Shop) -> list[int]:
    return [order.id for order in await shop.apps["orders"].state.order_expiry.expire_unpaid()]


def refund_lines(stream: io.BytesIO) -> list[dict]:
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["message"] == "payment refunded: order closed"]


async def test_a_charge_that_lands_after_the_expiry_is_refunded(
    tmp_path: Path, database_settings: dict[str, dict[str, str]]
) -> None:
    links: list[PaymentResultLink] = []

    def link(wrapped: httpx.AsyncBaseTransport) -> PaymentResultLink:
        links.append(PaymentResultLink(wrapped))
        return links[-1]

    async with (
        running_shop(tmp_path, database_settings, record_spans=True, orders_link=link) as shop,
        shop.client() as client,
    ):
        stream = io.BytesIO()
        configure_logging("payments", "INFO", stream=stream)
        product_id = await create_product(client, "REFUND-1", stock=10)
        placed = await client.post("/order", json=order_body(product_id, 3))
        order_id = placed.json()["order_id"]
        await make_overdue(shop, order_id)  # payable now, expired by the time the charge is in
        expired: list[int] = []

        async def expiry_wins() -> None:
            expired.extend(await expire(shop))

        links[0].before_result = expiry_wins
        headers = {"Idempotency-Key": "refund-race-1"}
        answer = await client.post("/payment/pay", json={"order_id": order_id}, headers=headers)

        body = assert_problem(answer, 409)
        assert body["type"].endswith("order-closed")
        assert body["detail"] == (
            f"Order {order_id} was closed (expired or paid) while this payment ran;"
            " the charge was refunded."
        )
        assert body["reason"] == "order_closed"
        assert expired == [order_id]
        payment = (await client.get(f"/api/v1/payments/{body['payment_id']}")).json()
        assert (payment["status"], payment["reason"]) == ("refunded", "order_closed")
        assert payment["order_id"] == order_id
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "expired"
        assert await stock_of(client, product_id) == 10  # the expiry gave the stock back

        links[0].before_result = None
        replay = await client.post("/payment/pay", json={"order_id": order_id}, headers=headers)
        assert replay.status_code == 409 and replay.json() == body
        assert replay.headers["Idempotent-Replayed"] == "true"
        again = await client.post("/payment/pay", json={"order_id": order_id})
        assert assert_problem(again, 409)["type"].endswith("order-not-payable")

        amount = float(payment["amount"])
        payments = await shop.metric("payments", "payments")
        assert payments == {(("reason", "order_closed"), ("result", "refunded"), *PAYMENTS): 1}
        refunds = await shop.metric("payments", "refunds")
        assert refunds == {(("reason", "order_closed"), *PAYMENTS): 1}
        assert await shop.metric("payments", "refunded_amount") == {PAYMENTS: amount}
        assert await shop.metric("payments", "revenue") == {PAYMENTS: 0}  # never taken
        errors = await shop.metric("payments", "error")
        assert {dict(labels)["reason"] for labels in errors} == {"order_closed"}

        spans = shop.finished_spans()
    charged = [s for s in spans if s.name == "ProcessPayment" and "payment.id" in s.attributes]
    (process,) = charged  # the refused attempt after it charged nothing
    assert process.attributes["payment.result"] == "refunded"
    assert process.attributes["payment.id"] == body["payment_id"]
    assert "payment.refunded" in [event.name for event in process.events]
    (line,) = refund_lines(stream)
    assert (line["order_id"], line["payment_id"]) == (order_id, body["payment_id"])
    assert line["level"] == "warning"
    assert line["trace_id"] == format(process.context.trace_id, "032x")


async def test_a_charge_on_an_open_order_is_kept(
    tmp_path: Path, database_settings: dict[str, dict[str, str]]
) -> None:
    async with (
        running_shop(tmp_path, database_settings) as shop,
        shop.client() as client,
    ):
        product_id = await create_product(client, "KEPT-1", stock=10)
        order_id = (await client.post("/order", json=order_body(product_id, 1))).json()["order_id"]
        await make_overdue(shop, order_id)  # overdue, but nothing expires it before the charge
        paid = await client.post("/payment/pay", json={"order_id": order_id})
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "succeeded"
        assert await expire(shop) == []
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "paid"
        assert await stock_of(client, product_id) == 9
        assert await shop.metric("payments", "revenue") == {PAYMENTS: float(paid.json()["amount"])}
        assert await shop.metric("payments", "refunds") == {}
        assert await shop.metric("payments", "refunded_amount") == {PAYMENTS: 0}


async def test_the_reconciler_refunds_a_charge_orders_refuses_later(
    tmp_path: Path, database_settings: dict[str, dict[str, str]]
) -> None:
    """Orders could not hear the success; the order expired; the reconciler's report is
    refused, and the reconciler refunds the charge."""
    links: list[PaymentResultLink] = []

    def link(wrapped: httpx.AsyncBaseTransport) -> PaymentResultLink:
        links.append(PaymentResultLink(wrapped))
        links[-1].cut = True
        return links[-1]

    async with (
        running_shop(
            tmp_path,
            database_settings,
            record_spans=True,
            orders_link=link,
            reconcile_interval_seconds=0.1,
        ) as shop,
        shop.client() as client,
    ):
        stream = io.BytesIO()
        configure_logging("payments", "INFO", stream=stream)
        product_id = await create_product(client, "LATE-REFUND-1", stock=10)
        order_id = (await client.post("/order", json=order_body(product_id, 2))).json()["order_id"]
        paid = await client.post("/payment/pay", json={"order_id": order_id})
        assert paid.status_code == 200, paid.text  # the client was told: succeeded
        payment_id = paid.json()["payment_id"]
        await make_overdue(shop, order_id)
        assert await expire(shop) == [order_id]  # orders never heard of the payment
        assert await stock_of(client, product_id) == 10

        links[0].cut = False

        async def refunded() -> dict | None:
            payment = (await client.get(f"/api/v1/payments/{payment_id}")).json()
            return payment if payment["status"] == "refunded" else None

        payment = await wait_until_async(
            refunded, timeout=10, interval=0.05, message="the reconciler refunds the charge"
        )
        assert payment["reason"] == "order_closed"
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "expired"

        amount = float(payment["amount"])
        payments = await shop.metric("payments", "payments")
        assert payments == {
            (("reason", "none"), ("result", "succeeded"), *PAYMENTS): 1,
            (("reason", "order_closed"), ("result", "refunded"), *PAYMENTS): 1,
        }
        assert await shop.metric("payments", "refunded_amount") == {PAYMENTS: amount}
        spans = shop.finished_spans()
    (refund,) = [s for s in spans if s.name == "RefundPayment"]
    assert refund.attributes["payment.result"] == "refunded"
    assert refund.attributes["payment.id"] == payment_id
    (line,) = refund_lines(stream)
    assert line["payment_id"] == payment_id
    assert line["trace_id"] == format(refund.context.trace_id, "032x")
