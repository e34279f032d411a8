"""Catalog and stock stored in the service's database, in SQL through ``platform.sql``.

Stock is only ever changed by a relative, conditional ``UPDATE``: ``stock = stock - $q
WHERE stock >= $q`` for an order, ``stock = stock + $n`` to give back or deliver. The
database decides, atomically, whether there is enough, so two orders can never both take
the last unit, and no change is lost to another (no read-then-write race on either
database). The deduction's ``UPDATE`` also returns the product's price, so the order is
priced by the statement that reserves its stock, without a catalog read of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry.instrumentation.utils import suppress_instrumentation

from minishop.platform.sql import Connection, Database, Row, UniqueViolation, placeholders
from minishop.products.adapters.faults import ProductDbError
from minishop.products.domain.model import (
    Deduction,
    DeductionResult,
    InsufficientStock,
    NewProduct,
    Product,
    ProductNotFound,
    Release,
    ReservationConflict,
    SkuTaken,
    StockLevel,
    StockLine,
)

DEDUCTED = "deducted"
RELEASED = "released"
_COLUMNS = "id, sku, name, price_cents, stock"


def _to_product(row: Row) -> Product:
    return Product(
        id=row["id"],
        sku=row["sku"],
        name=row["name"],
        price_cents=row["price_cents"],
        stock=row["stock"],
    )


class SqlProductRepository:
    def __init__(self, database: Database, faults: ProductDbError | None = None) -> None:
        self._database = database
        self._faults = faults or ProductDbError(None)

    async def add(self, product: NewProduct) -> Product:
        try:
            async with self._database.transaction() as connection:
                row = await connection.fetchrow(
                    "INSERT INTO products (sku, name, price_cents, stock) VALUES ($1, $2, $3, $4)"
                    f" RETURNING {_COLUMNS}",
                    product.sku,
                    product.name,
                    product.price_cents,
                    product.stock,
                )
        except UniqueViolation as exc:
            raise SkuTaken(product.sku) from exc
        assert row is not None  # RETURNING of an INSERT that succeeded
        return _to_product(row)

    async def get(self, product_id: int) -> Product | None:
        async with self._database.connection() as connection:
            if self._faults.among((product_id,)) is not None:
                await self._faults.fail(connection, product_id)
            row = await connection.fetchrow(
                f"SELECT {_COLUMNS} FROM products WHERE id = $1", product_id
            )
        return _to_product(row) if row else None

    async def list(
        self, limit: int, offset: int, ids: Sequence[int] | None = None
    ) -> list[Product]:
        if ids is not None and not ids:
            return []  # asked for no product: there is nothing to read
        async with self._database.connection() as connection:
            if ids is None:
                rows = await connection.fetch(
                    f"SELECT {_COLUMNS} FROM products ORDER BY id LIMIT $1 OFFSET $2",
                    limit,
                    offset,
                )
            else:
                if (failing := self._faults.among(ids)) is not None:
                    await self._faults.fail(connection, failing)
                wanted = list(ids)
                rows = await connection.fetch(
                    f"SELECT {_COLUMNS} FROM products WHERE id IN ({placeholders(len(wanted))})"
                    f" ORDER BY id LIMIT ${len(wanted) + 1} OFFSET ${len(wanted) + 2}",
                    *wanted,
                    limit,
                    offset,
                )
        return [_to_product(row) for row in rows]

    async def all_stock(self) -> list[Product]:
        async with self._database.connection() as connection:
            rows = await connection.fetch(f"SELECT {_COLUMNS} FROM products")
        return [_to_product(row) for row in rows]

    async def below(self, threshold: int, limit: int) -> list[StockLevel]:
        """Products holding fewer than ``threshold`` units: the supplier's poll.

        Untraced, like a health probe: the supplier asks every few seconds, and an idle
        shop's traces would otherwise be nothing but this query. The deliveries it leads
        to are traced.
        """
        with suppress_instrumentation():
            async with self._database.connection() as connection:
                rows = await connection.fetch(
                    "SELECT id, stock FROM products WHERE stock < $1 ORDER BY id LIMIT $2",
                    threshold,
                    limit,
                )
        return [StockLevel(row["id"], row["stock"]) for row in rows]

    async def restock(self, product_id: int, units: int, below: int) -> int | None:
        """``stock = stock + units``, computed by the database under its row lock.

        Never a stock value written from an earlier read: a deduction committed between
        the supplier's poll and this update is kept (the units are added to what is there
        now). The condition is checked at write time too, so two suppliers (two replicas
        of the service) polling at once deliver once.
        """
        async with self._database.transaction() as connection:
            return await connection.fetchval(
                "UPDATE products SET stock = stock + $1 WHERE id = $2 AND stock < $3"
                " RETURNING stock",
                units,
                product_id,
                below,
            )

    async def deduct(self, deduction: Deduction) -> DeductionResult:
        try:
            async with self._database.transaction() as connection:
                await connection.execute(
                    "INSERT INTO inventory_reservations (reservation_id, status, created_at)"
                    " VALUES ($1, $2, $3)",
                    deduction.reservation_id,
                    DEDUCTED,
                    datetime.now(UTC),
                )
                taken = [await self._take(connection, line) for line in deduction.lines]
                await connection.executemany(
                    "INSERT INTO inventory_reservation_lines (reservation_id, product_id, quantity)"
                    " VALUES ($1, $2, $3)",
                    [
                        (deduction.reservation_id, line.product_id, line.quantity)
                        for line in deduction.lines
                    ],
                )
        except UniqueViolation:
            return await self._replay(deduction)
        return DeductionResult(
            deduction=deduction,
            stock_after=tuple(
                StockLevel(line.product_id, units)
                for line, (units, _) in zip(deduction.lines, taken, strict=True)
            ),
            replayed=False,
            unit_prices_cents=tuple(price for _, price in taken),
        )

    async def _take(self, connection: Connection, line: StockLine) -> tuple[int, int]:
        """Take one line's units: the stock left and the product's price in cents."""
        if self._faults.among((line.product_id,)) is not None:
            await self._faults.fail(connection, line.product_id)  # the whole deduction rolls back
        taken = await connection.fetchrow(
            "UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1"
            " RETURNING stock, price_cents",
            line.quantity,
            line.product_id,
        )
        if taken is not None:
            return taken["stock"], taken["price_cents"]
        available = await connection.fetchval(
            "SELECT stock FROM products WHERE id = $1", line.product_id
        )
        if available is None:
            raise ProductNotFound(line.product_id)
        raise InsufficientStock(line.product_id, line.quantity, available)

    async def _replay(self, deduction: Deduction) -> DeductionResult:
        """The reservation exists already: the same request again, or a conflicting one.

        A replay answers the prices the products have now: reservations keep no price,
        and the order the first answer priced was recorded by then.
        """
        product_ids = [line.product_id for line in deduction.lines]
        async with self._database.connection() as connection:
            status = await connection.fetchval(
                "SELECT status FROM inventory_reservations WHERE reservation_id = $1",
                deduction.reservation_id,
            )
            held = await connection.fetch(
                "SELECT product_id, quantity FROM inventory_reservation_lines"
                " WHERE reservation_id = $1 ORDER BY product_id",
                deduction.reservation_id,
            )
            levels = await connection.fetch(
                "SELECT id, stock, price_cents FROM products"
                f" WHERE id IN ({placeholders(len(product_ids))}) ORDER BY id",
                *product_ids,
            )
        if status is None:
            raise ReservationConflict("the reservation could not be recorded; retry")
        if status == RELEASED:
            raise ReservationConflict(
                f"Reservation {deduction.reservation_id} was released and cannot be reused."
            )
        if tuple(StockLine(row["product_id"], row["quantity"]) for row in held) != deduction.lines:
            raise ReservationConflict(
                f"Reservation {deduction.reservation_id} already holds different lines."
            )
        # The lines are held, so every product exists (a foreign key), in the lines' order.
        return DeductionResult(
            deduction=deduction,
            stock_after=tuple(StockLevel(row["id"], row["stock"]) for row in levels),
            replayed=True,
            unit_prices_cents=tuple(row["price_cents"] for row in levels),
        )

    async def release(self, reservation_id: str) -> Release:
        async with self._database.transaction() as connection:
            released = await connection.execute(
                "UPDATE inventory_reservations SET status = $1"
                " WHERE reservation_id = $2 AND status = $3",
                RELEASED,
                reservation_id,
                DEDUCTED,
            )
            if released != 1:
                return Release(reservation_id, stock_after=())
            lines = await connection.fetch(
                "SELECT product_id, quantity FROM inventory_reservation_lines"
                " WHERE reservation_id = $1 ORDER BY product_id",
                reservation_id,
            )
            if (failing := self._faults.among(row["product_id"] for row in lines)) is not None:
                await self._faults.fail(connection, failing)  # released stays undone
            stock_after: list[StockLevel] = []
            for line in lines:
                units = await connection.fetchval(
                    "UPDATE products SET stock = stock + $1 WHERE id = $2 RETURNING stock",
                    line["quantity"],
                    line["product_id"],
                )
                stock_after.append(StockLevel(line["product_id"], units))
            return Release(reservation_id, tuple(stock_after))
