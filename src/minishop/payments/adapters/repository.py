"""Payments stored with SQLAlchemy Core."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from minishop.payments.adapters.orm import payments
from minishop.payments.domain.model import (
    ChargeOutcome,
    OrderNotPayable,
    Payment,
    PaymentNotFound,
    PaymentStatus,
)

SYNC_BATCH = 100
"""Outcomes one reconciler round reports to orders; the rest wait for the next round."""


def _to_payment(row: Row) -> Payment:
    created_at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return Payment(
        id=row.id,
        order_id=row.order_id,
        amount_cents=row.amount_cents,
        status=PaymentStatus(row.status),
        reason=row.reason,
        card_last4=row.card_last4,
        order_synced=row.order_synced,
        created_at=created_at,
    )


class SqlPaymentRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def start(self, order_id: int, amount_cents: int, card_last4: str | None) -> Payment:
        now = datetime.now(UTC)
        try:
            async with self._engine.begin() as connection:
                row = (
                    await connection.execute(
                        insert(payments)
                        .values(
                            id=str(uuid.uuid4()),
                            order_id=order_id,
                            amount_cents=amount_cents,
                            status=PaymentStatus.PROCESSING.value,
                            card_last4=card_last4,
                            order_synced=False,
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(payments)
                    )
                ).one()
        except IntegrityError as exc:
            raise OrderNotPayable(
                f"Order {order_id} is already paid or a payment for it is in progress."
            ) from exc
        return _to_payment(row)

    async def renew(self, payment_id: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(payments)
                .where(
                    payments.c.id == payment_id,
                    payments.c.status == PaymentStatus.PROCESSING.value,
                )
                .values(updated_at=datetime.now(UTC))
            )
        return result.rowcount > 0

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
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    update(payments)
                    .where(payments.c.id == payment_id, payments.c.status == expected.value)
                    .values(status=new.value, reason=reason, updated_at=datetime.now(UTC))
                    .returning(payments)
                )
            ).one_or_none()
        if row is None:
            raise PaymentNotFound(payment_id)
        return _to_payment(row)

    async def mark_synced(self, payment_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(payments).where(payments.c.id == payment_id).values(order_synced=True)
            )

    async def get(self, payment_id: str) -> Payment | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(payments).where(payments.c.id == payment_id))
            ).one_or_none()
        return _to_payment(row) if row else None

    async def list(self, limit: int, offset: int, order_id: int | None) -> list[Payment]:
        query = (
            select(payments)
            .order_by(payments.c.created_at, payments.c.id)
            .limit(limit)
            .offset(offset)
        )
        if order_id is not None:
            query = query.where(payments.c.order_id == order_id)
        async with self._engine.connect() as connection:
            return [_to_payment(row) for row in await connection.execute(query)]

    async def unsynced(self) -> list[Payment]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(payments)
                .where(
                    payments.c.order_synced.is_(False),
                    payments.c.status != PaymentStatus.PROCESSING.value,
                )
                .order_by(payments.c.created_at)
                .limit(SYNC_BATCH)
            )
            return [_to_payment(row) for row in rows]

    async def stale_processing(self, older_than: timedelta) -> list[Payment]:
        cutoff = datetime.now(UTC) - older_than
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(payments).where(
                    payments.c.status == PaymentStatus.PROCESSING.value,
                    payments.c.updated_at < cutoff,  # renewed while its charge runs
                )
            )
            return [_to_payment(row) for row in rows]
