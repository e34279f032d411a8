"""What a crash or a down dependency leaves behind is put right, and nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from minishop.platform.idempotency import IdempotencyStore, StoredResponse
from tests.support.databases import idempotency_keys_database
from tests.support.helpers import order_body, stock_of, wait_until_async
from tests.support.postgres import PostgresSchemas
from tests.support.shop import Shop, running_shop


class PaymentResultsDropped(httpx.AsyncBaseTransport):
    """The payments -> orders link, with the payment-result calls failing while ``cut``."""

    def __init__(self, wrapped: httpx.AsyncBaseTransport) -> None:
        self.wrapped = wrapped
        self.cut = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.cut and request.url.path.endswith("/payment-result"):
            raise httpx.ConnectError("link down", request=request)
        return await self.wrapped.handle_async_request(request)


async def _wait_for_status(shop: Shop, order_id: int, status: str) -> None:
    async with shop.client() as client:

        async def reached() -> bool:
            return (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == status

        await wait_until_async(
            reached, timeout=5.0, interval=0.05, message=f"order {order_id} {status}"
        )


async def test_stock_of_an_order_a_crash_left_reserving_is_given_back(tmp_path: Path) -> None:
    async with (
        running_shop(tmp_path, reconcile_interval_seconds=0.1) as shop,
        shop.client() as client,
    ):
        created = (await client.post("/order", json=order_body(1, 3))).json()
        stock_after_order = await stock_of(client, 1)
        # As if the process died after taking the stock and before confirming the order.
        async with shop.apps["orders"].state.database.transaction() as connection:
            await connection.execute(
                "UPDATE orders SET status = 'reserving', created_at = $1 WHERE id = $2",
                datetime.now(UTC) - timedelta(minutes=5),
                created["order_id"],
            )

        async def given_back() -> bool:
            return await stock_of(client, 1) == stock_after_order + 3

        await wait_until_async(
            given_back, timeout=5.0, interval=0.05, message="the stuck order's stock given back"
        )
        assert await stock_of(client, 1) == stock_after_order + 3
        missing = await client.get(f"/api/v1/orders/{created['order_id']}")
        assert missing.status_code == 404


async def test_a_charge_orders_did_not_hear_of_reaches_it_later(tmp_path: Path) -> None:
    links: list[PaymentResultsDropped] = []

    def cut_link(wrapped: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        links.append(PaymentResultsDropped(wrapped))
        return links[-1]

    async with (
        running_shop(tmp_path, reconcile_interval_seconds=0.1, orders_link=cut_link) as shop,
        shop.client() as client,
    ):
        (link,) = links
        order_id = (await client.post("/order", json=order_body())).json()["order_id"]
        link.cut = True
        paid = await client.post("/payment/pay", json={"order_id": order_id})
        assert paid.status_code == 200, paid.text  # the charge happened and is kept
        assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "pending"
        link.cut = False
        await _wait_for_status(shop, order_id, "paid")
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["payment_id"] == paid.json()["payment_id"]


async def test_a_claim_left_by_a_crash_goes_stale_and_is_taken_over(
    tmp_path: Path, postgres: PostgresSchemas
) -> None:
    database = await idempotency_keys_database("sqlite", tmp_path, postgres)
    async with database.transaction() as connection:
        await connection.execute(
            "INSERT INTO idempotency_keys (key, fingerprint, created_at) VALUES ($1, $2, $3)",
            "/x:k",
            "f",
            datetime.now(UTC) - timedelta(hours=1),
        )
    store = IdempotencyStore(database, wait_seconds=1)
    calls = 0

    async def operation() -> StoredResponse:
        nonlocal calls
        calls += 1
        return StoredResponse(201, b"{}")

    response, replayed = await store.run("/x", "k", "f", operation)
    assert (response.status_code, replayed, calls) == (201, False, 1)
    response, replayed = await store.run("/x", "k", "f", operation)
    assert (replayed, calls) == (True, 1)
    await database.close()


async def test_a_failed_operation_releases_its_key_for_a_retry(
    tmp_path: Path, postgres: PostgresSchemas
) -> None:
    database = await idempotency_keys_database("sqlite", tmp_path, postgres)
    store = IdempotencyStore(database, wait_seconds=1)

    async def failing() -> StoredResponse:
        raise RuntimeError("dependency down")

    async def succeeding() -> StoredResponse:
        return StoredResponse(201, b'{"ok": true}')

    with pytest.raises(RuntimeError):
        await store.run("/x", "k", "f", failing)
    response, replayed = await store.run("/x", "k", "f", succeeding)
    assert (response.body, replayed) == (b'{"ok": true}', False)
    await database.close()
