"""Payments stored in the service's database, in SQL through ``platform.sql``.

"One active payment per order" is the unique partial index
``ux_payments_one_active_per_order``: a second ``processing`` or ``succeeded`` row for an
order is refused by the database, whatever the interleaving. Every step of a payment's life
is a conditional ``UPDATE`` (from the status it expects only), so a step two processes race
for happens once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from minishop.payments.domain.model import (
    ChargeOutcome,
    OrderNotPayable,
    Payment,
    PaymentNotFound,
    PaymentStatus,
)
from minishop.platform.sql import Database, Row, UniqueViolation

SYNC_BATCH = 100
"""Outcomes one reconciler round reports to orders; the rest wait for the next round."""

_COLUMNS = "id, order_id, amount_cents, status, reason, card_last4, order_synced, created_at"
_PROCESSING = PaymentStatus.PROCESSING.value


def _to_payment(row: Row) -> Payment:
    return Payment(
        id=row["id"],
        order_id=row["order_id"],
        amount_cents=row["amount_cents"],
        status=PaymentStatus(row["status"]),
        reason=row["reason"],
        card_last4=row["card_last4"],
        order_synced=bool(row["order_synced"]),
        created_at=row["created_at"],
    )


class SqlPaymentRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def start(self, order_id: int, amount_cents: int, card_last4: str | None) -> Payment:
        now = datetime.now(UTC)
        try:
            async with self._database.transaction() as connection:
                row = await connection.fetchrow(
                    "INSERT INTO payments (id, order_id, amount_cents, status, card_last4,"
                    " order_synced, created_at, updated_at)"
                    f" VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {_COLUMNS}",
                    str(uuid.uuid4()),
                    order_id,
                    amount_cents,
                    _PROCESSING,
                    card_last4,
                    False,
                    now,
                )
        except UniqueViolation as exc:
            raise OrderNotPayable(
                f"Order {order_id} is already paid or a payment for it is in progress."
            ) from exc
        assert row is not None  # RETURNING of an INSERT that succeeded
        return _to_payment(row)

    async def renew(self, payment_id: str) -> bool:
        async with self._database.transaction() as connection:
            renewed = await connection.execute(
                "UPDATE payments SET updated_at = $1 WHERE id = $2 AND status = $3",
                datetime.now(UTC),
                payment_id,
                _PROCESSING,
            )
        return renewed > 0

    async def finish(self, payment_id: str, outcome: ChargeOutcome) -> Payment:
        status = PaymentStatus.SUCCEEDED if outcome.succeeded else PaymentStatus.FAILED
        return await self._move(payment_id, PaymentStatus.PROCESSING, status, outcome.reason)

    async def refund(self, payment_id: str, reason: str) -> Payment:
        return await self._move(payment_id, PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, reason)

    async def _move(
        self, payment_id: str, expected: PaymentStatus, new: PaymentStatus, reason: str | None
    ) -> Payment:
        """One conditional step of a payment's life: from ``expected`` only, so a step that
        two processes race for happens once; PaymentNotFound when it was not ``expected``."""
        async with self._database.transaction() as connection:
            row = await connection.fetchrow(
                "UPDATE payments SET status = $1, reason = $2, updated_at = $3"
                f" WHERE id = $4 AND status = $5 RETURNING {_COLUMNS}",
                new.value,
                reason,
                datetime.now(UTC),
                payment_id,
                expected.value,
            )
        if row is None:
            raise PaymentNotFound(payment_id)
        return _to_payment(row)

    async def mark_synced(self, payment_id: str) -> None:
        async with self._database.transaction() as connection:
            await connection.execute(
                "UPDATE payments SET order_synced = $1 WHERE id = $2", True, payment_id
            )

    async def get(self, payment_id: str) -> Payment | None:
        async with self._database.connection() as connection:
            row = await connection.fetchrow(
                f"SELECT {_COLUMNS} FROM payments WHERE id = $1", payment_id
            )
        return _to_payment(row) if row else None

    async def list(self, limit: int, offset: int, order_id: int | None) -> list[Payment]:
        async with self._database.connection() as connection:
            if order_id is None:
                rows = await connection.fetch(
                    f"SELECT {_COLUMNS} FROM payments ORDER BY created_at, id LIMIT $1 OFFSET $2",
                    limit,
                    offset,
                )
            else:
                rows = await connection.fetch(
                    f"SELECT {_COLUMNS} FROM payments WHERE order_id = $1"
                    " ORDER BY created_at, id LIMIT $2 OFFSET $3",
                    order_id,
                    limit,
                    offset,
                )
        return [_to_payment(row) for row in rows]

    async def unsynced(self) -> list[Payment]:
        async with self._database.connection() as connection:
            rows = await connection.fetch(
                f"SELECT {_COLUMNS} FROM payments WHERE order_synced = $1 AND status <> $2"
                " ORDER BY created_at LIMIT $3",
                False,
                _PROCESSING,
                SYNC_BATCH,
            )
        return [_to_payment(row) for row in rows]

    async def stale_processing(self, older_than: timedelta) -> list[Payment]:
        cutoff = datetime.now(UTC) - older_than
        async with self._database.connection() as connection:
            rows = await connection.fetch(
                f"SELECT {_COLUMNS} FROM payments"
                " WHERE status = $1 AND updated_at < $2",  # renewed while its charge runs
                _PROCESSING,
                cutoff,
            )
        return [_to_payment(row) for row in rows]
