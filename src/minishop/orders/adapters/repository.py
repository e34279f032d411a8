"""Orders stored in the service's database, in SQL through ``platform.sql``.

An order is read with its lines in one statement (``orders LEFT JOIN order_lines``): the
payment's read of its order, on every payment, costs one round trip instead of two.
Every move of an order's status is a conditional ``UPDATE ... WHERE status = ...``, so
two moves racing each other (a payment and the expiry) can never both happen.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
from opentelemetry.instrumentation.utils import suppress_instrumentation

from minishop.orders.domain.model import (
    EXPIRABLE,
    Order,
    OrderLine,
    OrderNotFound,
    OrderStatus,
)
from minishop.platform.sql import Connection, Database, Row, placeholders

_UNPAID = ", ".join(f"'{status.value}'" for status in sorted(EXPIRABLE))
"""The statuses an order waits for its payment in, as SQL literals (the enum's own values)."""
_VISIBLE = f"o.status <> '{OrderStatus.RESERVING.value}'"
"""An order still taking its stock is not shown: it may yet vanish."""
_EXPIRY_CANDIDATE = (
    f"(o.status = '{OrderStatus.EXPIRING.value}'"
    f" OR (o.status IN ({_UNPAID}) AND o.updated_at < $1))"
)
_WITH_LINES = (
    "SELECT o.id, o.user_id, o.status, o.total_cents, o.reservation_id, o.payment_id,"
    " o.created_at, l.product_id, l.quantity, l.unit_price_cents"
    " FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id"
)
_ORDERED = " ORDER BY o.id, l.product_id"
_LINES_AS_JSON = {
    "sqlite": "(SELECT json_group_array(json_array(product_id, quantity, unit_price_cents))"
    " FROM order_lines WHERE order_id = orders.id)",
    "postgresql": "(SELECT json_agg(json_build_array(product_id, quantity, unit_price_cents))::text"
    " FROM order_lines WHERE order_id = orders.id)",
}
"""An order's lines as one JSON value ``[[product_id, quantity, unit_price_cents], ...]``:
the two databases name the same aggregate differently."""
_INSERT_LINES = (
    "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)"
    " VALUES ($1, $2, $3, $4)"
)


def _orders(rows: Sequence[Row]) -> list[Order]:
    """Orders from ``_WITH_LINES`` rows, ordered by order id: one row per line, or one row
    with NULL line columns for an order without lines (a ``reserving`` one)."""
    found: list[Order] = []
    lines: list[OrderLine] = []
    for row in rows:
        if not found or found[-1].id != row["id"]:
            if found:
                found[-1] = replace(found[-1], lines=tuple(lines))
            lines = []
            found.append(
                Order(
                    id=row["id"],
                    user_id=row["user_id"],
                    status=OrderStatus(row["status"]),
                    lines=(),
                    total_cents=row["total_cents"],
                    reservation_id=row["reservation_id"],
                    payment_id=row["payment_id"],
                    created_at=row["created_at"],
                )
            )
        if row["product_id"] is not None:
            lines.append(OrderLine(row["product_id"], row["quantity"], row["unit_price_cents"]))
    if found:
        found[-1] = replace(found[-1], lines=tuple(lines))
    return found


class SqlOrderRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add_reserving(self, user_id: int, reservation_id: str) -> Order:
        now = datetime.now(UTC)
        async with self._database.transaction() as connection:
            order_id = await connection.fetchval(
                "INSERT INTO orders (user_id, status, total_cents, reservation_id,"
                " created_at, updated_at) VALUES ($1, $2, 0, $3, $4, $4) RETURNING id",
                user_id,
                OrderStatus.RESERVING.value,
                reservation_id,
                now,
            )
        return Order(
            id=order_id,
            user_id=user_id,
            status=OrderStatus.RESERVING,
            lines=(),
            total_cents=0,
            reservation_id=reservation_id,
            payment_id=None,
            created_at=now,
        )

    async def confirm(self, order: Order, lines: Sequence[OrderLine]) -> Order:
        total = sum(line.total_cents for line in lines)
        async with self._database.transaction() as connection:
            confirmed = await connection.execute(
                "UPDATE orders SET status = $1, total_cents = $2, updated_at = $3"
                " WHERE id = $4 AND status = $5",
                OrderStatus.PENDING.value,
                total,
                datetime.now(UTC),
                order.id,
                OrderStatus.RESERVING.value,
            )
            if confirmed != 1:
                raise OrderNotFound(order.id)  # reconciliation released it meanwhile
            await connection.executemany(
                _INSERT_LINES,
                [
                    (order.id, line.product_id, line.quantity, line.unit_price_cents)
                    for line in lines
                ],
            )
        return replace(order, status=OrderStatus.PENDING, lines=tuple(lines), total_cents=total)

    async def discard(self, order_id: int) -> None:
        async with self._database.transaction() as connection:
            await connection.execute("DELETE FROM order_lines WHERE order_id = $1", order_id)
            await connection.execute("DELETE FROM orders WHERE id = $1", order_id)

    async def get(self, order_id: int) -> Order | None:
        async with self._database.connection() as connection:
            rows = await connection.fetch(
                f"{_WITH_LINES} WHERE o.id = $1 AND {_VISIBLE} ORDER BY l.product_id", order_id
            )
        found = _orders(rows)
        return found[0] if found else None

    async def list(self, limit: int, offset: int, user_id: int | None) -> list[Order]:
        """One statement: the page of ids is a subquery of the read that joins the lines."""
        of_user = "" if user_id is None else " AND o.user_id = $3"
        page = (
            f"SELECT o.id FROM orders o WHERE {_VISIBLE}{of_user} ORDER BY o.id LIMIT $1 OFFSET $2"
        )
        args = (limit, offset) if user_id is None else (limit, offset, user_id)
        async with self._database.connection() as connection:
            rows = await connection.fetch(f"{_WITH_LINES} WHERE o.id IN ({page}){_ORDERED}", *args)
        return _orders(rows)

    async def set_status(
        self, order_id: int, expected: OrderStatus, new: OrderStatus, payment_id: str | None
    ) -> bool:
        async with self._database.transaction() as connection:
            moved = await connection.execute(
                "UPDATE orders SET status = $1, payment_id = $2, updated_at = $3"
                " WHERE id = $4 AND status = $5",
                new.value,
                payment_id,
                datetime.now(UTC),
                order_id,
                expected.value,
            )
        return moved == 1

    async def record_outcome(
        self,
        order_id: int,
        payable: Collection[OrderStatus],
        new: OrderStatus,
        payment_id: str,
    ) -> Order | None:
        """One statement: the conditional move, returning the order with its lines (a
        subquery of the RETURNING clause, aggregated as JSON in the database's own words)."""
        statuses = sorted(status.value for status in payable)
        async with self._database.transaction() as connection:
            row = await connection.fetchrow(
                "UPDATE orders SET status = $1, payment_id = $2, updated_at = $3"
                f" WHERE id = $4 AND status IN ({placeholders(len(statuses), first=5)})"
                " AND (status <> $1 OR payment_id IS DISTINCT FROM $2)"
                " RETURNING id, user_id, status, total_cents, reservation_id, payment_id,"
                f" created_at, {_LINES_AS_JSON[self._database.system]} AS lines",
                new.value,
                payment_id,
                datetime.now(UTC),
                order_id,
                *statuses,
            )
        if row is None:
            return None
        lines = sorted(OrderLine(*line) for line in orjson.loads(row["lines"] or "[]"))
        return Order(
            id=row["id"],
            user_id=row["user_id"],
            status=OrderStatus(row["status"]),
            lines=tuple(lines),
            total_cents=row["total_cents"],
            reservation_id=row["reservation_id"],
            payment_id=row["payment_id"],
            created_at=row["created_at"],
        )

    async def stale_reserving(self, older_than: timedelta) -> list[Order]:
        cutoff = datetime.now(UTC) - older_than
        async with self._database.connection() as connection:
            rows = await connection.fetch(
                f"{_WITH_LINES} WHERE o.status = $1 AND o.created_at < $2{_ORDERED}",
                OrderStatus.RESERVING.value,
                cutoff,
            )
        return _orders(rows)

    async def expiry_candidates(self, unpaid_since: datetime, limit: int) -> list[Order]:
        """The expiry's poll: untraced, like a health probe, as it runs every few seconds
        whether or not anything expires; each expiry it leads to is traced.

        ``updated_at`` is when the order entered its status: a failed payment restarts the
        clock, so a customer who just tried again is not cut off mid-retry.

        The rows are loaded by a second statement, which under PostgreSQL's READ COMMITTED
        sees whatever committed after the first: it repeats the condition, so that an order
        paid in between is not returned as a candidate (with its new status) at all.
        """
        with suppress_instrumentation():
            async with self._database.connection() as connection:
                rows = await connection.fetch(
                    f"SELECT o.id FROM orders o WHERE {_EXPIRY_CANDIDATE}"
                    " ORDER BY o.updated_at, o.id LIMIT $2",
                    unpaid_since,
                    limit,
                )
                return await self._load(connection, [row["id"] for row in rows], unpaid_since)

    async def begin_expiry(self, order_id: int, unpaid_since: datetime) -> bool:
        async with self._database.transaction() as connection:
            moved = await connection.execute(
                f"UPDATE orders SET status = $1, updated_at = $2"
                f" WHERE id = $3 AND status IN ({_UNPAID}) AND updated_at < $4",
                OrderStatus.EXPIRING.value,
                datetime.now(UTC),
                order_id,
                unpaid_since,
            )
        return moved == 1

    async def finish_expiry(self, order_id: int) -> bool:
        async with self._database.transaction() as connection:
            moved = await connection.execute(
                "UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
                OrderStatus.EXPIRED.value,
                datetime.now(UTC),
                order_id,
                OrderStatus.EXPIRING.value,
            )
        return moved == 1

    @staticmethod
    async def _load(
        connection: Connection, ids: Sequence[int], unpaid_since: datetime
    ) -> list[Order]:
        """The expiry candidates ``ids`` with their lines, only those still candidates
        (the rows may have changed since the ids were selected)."""
        if not ids:
            return []
        rows = await connection.fetch(
            f"{_WITH_LINES} WHERE {_EXPIRY_CANDIDATE}"
            f" AND o.id IN ({placeholders(len(ids), first=2)}){_ORDERED}",
            unpaid_since,
            *ids,
        )
        return _orders(rows)
