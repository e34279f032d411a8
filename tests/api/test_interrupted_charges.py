"""A charge cut short by a crash frees its order within seconds, never twice charged."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from minishop.payments.adapters.repository import SqlPaymentRepository
from minishop.payments.application.services import CHARGE_LEASE
from minishop.payments.domain.model import ChargeOutcome
from minishop.platform.sql import Database
from tests.support.helpers import order_body, wait_until_async
from tests.support.shop import running_shop


async def _left_mid_charge(
    database: Database,
    order_id: int,
    total_cents: int,
    renewed_ago: timedelta,
    started_ago: timedelta,
) -> str:
    """A ``processing`` payment started ``started_ago``, its lease renewed ``renewed_ago``."""
    payment_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        await connection.execute(
            "INSERT INTO payments (id, order_id, amount_cents, status, card_last4, order_synced,"
            " created_at, updated_at) VALUES ($1, $2, $3, 'processing', NULL, $4, $5, $6)",
            payment_id, order_id, total_cents, False, now - started_ago, now - renewed_ago,
        )  # fmt: skip
    return payment_id


async def test_a_charge_left_by_a_dead_process_is_failed_and_the_order_paid_again(
    tmp_path: Path, database_settings: dict[str, dict[str, str]]
) -> None:
    async with (
        running_shop(tmp_path, database_settings, reconcile_interval_seconds=0.1) as shop,
        shop.client() as client,
    ):
        order = (await client.post("/order", json=order_body())).json()
        cents = round(float(order["total"]) * 100)
        database = shop.apps["payments"].state.database
        stale = await _left_mid_charge(
            database, order["order_id"], cents, CHARGE_LEASE * 2, CHARGE_LEASE * 2
        )

        async def paid_once() -> httpx.Response | None:
            paid = await client.post("/payment/pay", json={"order_id": order["order_id"]})
            if paid.status_code == 200:
                return paid
            assert paid.status_code == 409, paid.text  # blocked only until reconciled
            return None

        paid = await wait_until_async(
            paid_once, timeout=5.0, interval=0.05, message="the order paid once reconciled"
        )
        assert paid.status_code == 200, paid.text
        found = await client.get("/api/v1/payments", params={"order_id": order["order_id"]})
        by_id = {row["payment_id"]: row for row in found.json()["items"]}
        assert (by_id[stale]["status"], by_id[stale]["reason"]) == ("failed", "interrupted")
        assert [row["status"] for row in by_id.values()].count("succeeded") == 1
        final = (await client.get(f"/api/v1/orders/{order['order_id']}")).json()
        assert (final["status"], final["payment_id"]) == ("paid", paid.json()["payment_id"])


async def test_a_charge_renewed_recently_is_left_alone(
    tmp_path: Path, database_settings: dict[str, dict[str, str]]
) -> None:
    async with (
        running_shop(tmp_path, database_settings, reconcile_interval_seconds=0.05) as shop,
        shop.client() as client,
    ):
        order = (await client.post("/order", json=order_body())).json()
        cents = round(float(order["total"]) * 100)
        database = shop.apps["payments"].state.database
        live = await _left_mid_charge(
            database, order["order_id"], cents, timedelta(seconds=1), timedelta(minutes=10)
        )  # a long charge, still renewed by its live process
        await asyncio.sleep(0.5)  # several reconciler rounds
        refused = await client.post("/payment/pay", json={"order_id": order["order_id"]})
        assert refused.status_code == 409
        still = (await client.get(f"/api/v1/payments/{live}")).json()
        assert still["status"] == "processing"


async def test_renewing_a_charge_keeps_it_out_of_the_stale_ones_until_it_ends(
    tmp_path: Path, database_settings: dict[str, dict[str, str]]
) -> None:
    async with running_shop(tmp_path, database_settings) as shop:
        repository = SqlPaymentRepository(shop.apps["payments"].state.database)
        payment = await repository.start(order_id=999, amount_cents=100, card_last4=None)
        await asyncio.sleep(0.3)
        assert payment.id in {
            p.id for p in await repository.stale_processing(timedelta(seconds=0.2))
        }
        assert await repository.renew(payment.id) is True
        assert payment.id not in {
            p.id for p in await repository.stale_processing(timedelta(seconds=0.2))
        }
        await repository.finish(payment.id, ChargeOutcome(False, "card_declined"))
        assert await repository.renew(payment.id) is False  # ended: nothing left to keep alive
