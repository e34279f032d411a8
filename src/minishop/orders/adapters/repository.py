"""Orders stored with SQLAlchemy Core."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import ColumnElement, delete, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from minishop.orders.adapters.orm import order_lines, orders
from minishop.orders.domain.model import (
    EXPIRABLE,
    Order,
    OrderLine,
    OrderNotFound,
    OrderStatus,
)

VISIBLE = [status.value for status in OrderStatus if status != OrderStatus.RESERVING]
UNPAID = sorted(status.value for status in EXPIRABLE)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SqlOrderRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_reserving(
        self, user_id: int, lines: Sequence[OrderLine], reservation_id: str
    ) -> Order:
        now = datetime.now(UTC)
        total = sum(line.total_cents for line in lines)
        async with self._engine.begin() as connection:
            order_id = (
                await connection.execute(
                    insert(orders)
                    .values(
                        user_id=user_id,
                        status=OrderStatus.RESERVING.value,
                        total_cents=total,
                        reservation_id=reservation_id,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(orders.c.id)
                )
            ).scalar_one()
            await connection.execute(
                insert(order_lines),
                [
                    {
                        "order_id": order_id,
                        "product_id": line.product_id,
                        "quantity": line.quantity,
                        "unit_price_cents": line.unit_price_cents,
                    }
                    for line in lines
                ],
            )
        return Order(
            id=order_id,
            user_id=user_id,
            status=OrderStatus.RESERVING,
            lines=tuple(lines),
            total_cents=total,
            reservation_id=reservation_id,
            payment_id=None,
            created_at=now,
        )

    async def confirm(self, order: Order) -> Order:
        async with self._engine.begin() as connection:
            confirmed = await connection.execute(
                update(orders)
                .where(orders.c.id == order.id, orders.c.status == OrderStatus.RESERVING.value)
                .values(status=OrderStatus.PENDING.value, updated_at=datetime.now(UTC))
            )
        if confirmed.rowcount != 1:
            raise OrderNotFound(order.id)  # reconciliation released it meanwhile
        return replace(order, status=OrderStatus.PENDING)

    async def discard(self, order_id: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(order_lines).where(order_lines.c.order_id == order_id))
            await connection.execute(delete(orders).where(orders.c.id == order_id))

    async def get(self, order_id: int) -> Order | None:
        async with self._engine.connect() as connection:
            found = await self._load(connection, [order_id], visible_only=True)
        return found[0] if found else None

    async def list(self, limit: int, offset: int, user_id: int | None) -> list[Order]:
        query = (
            select(orders.c.id)
            .where(orders.c.status.in_(VISIBLE))
            .order_by(orders.c.id)
            .limit(limit)
            .offset(offset)
        )
        if user_id is not None:
            query = query.where(orders.c.user_id == user_id)
        async with self._engine.connect() as connection:
            ids = list((await connection.execute(query)).scalars())
            return await self._load(connection, ids)

    async def set_status(
        self, order_id: int, expected: OrderStatus, new: OrderStatus, payment_id: str | None
    ) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == expected.value)
                .values(status=new.value, payment_id=payment_id, updated_at=datetime.now(UTC))
            )
        return result.rowcount == 1

    async def stale_reserving(self, older_than: timedelta) -> list[Order]:
        cutoff = datetime.now(UTC) - older_than
        async with self._engine.connect() as connection:
            ids = list(
                (
                    await connection.execute(
                        select(orders.c.id).where(
                            orders.c.status == OrderStatus.RESERVING.value,
                            orders.c.created_at < cutoff,
                        )
                    )
                ).scalars()
            )
            return await self._load(connection, ids)

    async def expiry_candidates(self, unpaid_since: datetime, limit: int) -> list[Order]:
        """The expiry's poll: untraced, like a health probe, as it runs every few seconds
        whether or not anything expires; each expiry it leads to is traced.

        ``updated_at`` is when the order entered its status: a failed payment restarts the
        clock, so a customer who just tried again is not cut off mid-retry.

        The rows are loaded by a second statement, which under PostgreSQL's READ COMMITTED
        sees whatever committed after the first: it repeats the condition, so that an order
        paid in between is not returned as a candidate (with its new status) at all.
        """
        candidate = or_(
            orders.c.status == OrderStatus.EXPIRING.value,
            orders.c.status.in_(UNPAID) & (orders.c.updated_at < unpaid_since),
        )
        with suppress_instrumentation():
            async with self._engine.connect() as connection:
                ids = list(
                    (
                        await connection.execute(
                            select(orders.c.id)
                            .where(candidate)
                            .order_by(orders.c.updated_at, orders.c.id)
                            .limit(limit)
                        )
                    ).scalars()
                )
                return await self._load(connection, ids, candidate)

    async def begin_expiry(self, order_id: int, unpaid_since: datetime) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(orders)
                .where(
                    orders.c.id == order_id,
                    orders.c.status.in_(UNPAID),
                    orders.c.updated_at < unpaid_since,
                )
                .values(status=OrderStatus.EXPIRING.value, updated_at=datetime.now(UTC))
            )
        return result.rowcount == 1

    async def finish_expiry(self, order_id: int) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == OrderStatus.EXPIRING.value)
                .values(status=OrderStatus.EXPIRED.value, updated_at=datetime.now(UTC))
            )
        return result.rowcount == 1

    @staticmethod
    async def _load(
        connection: AsyncConnection,
        ids: Sequence[int],
        still: ColumnElement[bool] | None = None,
        visible_only: bool = False,
    ) -> list[Order]:
        """The orders ``ids`` with their lines; only those still matching ``still``, if given
        (the rows may have changed since the ids were selected)."""
        if not ids:
            return []
        query = select(orders).where(orders.c.id.in_(list(ids))).order_by(orders.c.id)
        if still is not None:
            query = query.where(still)
        if visible_only:
            query = query.where(orders.c.status.in_(VISIBLE))
        rows = (await connection.execute(query)).all()
        lines: dict[int, list[OrderLine]] = defaultdict(list)
        for line in await connection.execute(
            select(order_lines)
            .where(order_lines.c.order_id.in_(list(ids)))
            .order_by(order_lines.c.product_id)
        ):
            lines[line.order_id].append(
                OrderLine(line.product_id, line.quantity, line.unit_price_cents)
            )
        return [_to_order(row, lines[row.id]) for row in rows]


def _to_order(row: Row, lines: list[OrderLine]) -> Order:
    return Order(
        id=row.id,
        user_id=row.user_id,
        status=OrderStatus(row.status),
        lines=tuple(lines),
        total_cents=row.total_cents,
        reservation_id=row.reservation_id,
        payment_id=row.payment_id,
        created_at=_aware(row.created_at),
    )
