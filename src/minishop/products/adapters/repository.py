"""Catalog and stock stored with SQLAlchemy Core.

Stock is only ever changed by a relative, conditional ``UPDATE``: ``stock = stock - :q
WHERE stock >= :q`` for an order, ``stock = stock + :n`` to give back or deliver. The
database decides, atomically, whether there is enough, so two orders can never both take
the last unit, and no change is lost to another (no read-then-write race on either
database).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from minishop.products.adapters.faults import ProductDbError
from minishop.products.adapters.orm import products, reservation_lines, reservations
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


def _to_product(row: Row) -> Product:
    return Product(
        id=row.id, sku=row.sku, name=row.name, price_cents=row.price_cents, stock=row.stock
    )


class SqlProductRepository:
    def __init__(self, engine: AsyncEngine, faults: ProductDbError | None = None) -> None:
        self._engine = engine
        self._faults = faults or ProductDbError(None)

    async def add(self, product: NewProduct) -> Product:
        try:
            async with self._engine.begin() as connection:
                row = (
                    await connection.execute(
                        insert(products)
                        .values(
                            sku=product.sku,
                            name=product.name,
                            price_cents=product.price_cents,
                            stock=product.stock,
                        )
                        .returning(products)
                    )
                ).one()
        except IntegrityError as exc:
            raise SkuTaken(product.sku) from exc
        return _to_product(row)

    async def get(self, product_id: int) -> Product | None:
        async with self._engine.connect() as connection:
            if self._faults.among((product_id,)) is not None:
                await self._faults.fail(connection, product_id)
            row = (
                await connection.execute(select(products).where(products.c.id == product_id))
            ).one_or_none()
        return _to_product(row) if row else None

    async def list(
        self, limit: int, offset: int, ids: Sequence[int] | None = None
    ) -> list[Product]:
        query = select(products).order_by(products.c.id).limit(limit).offset(offset)
        if ids is not None:
            query = query.where(products.c.id.in_(list(ids)))
        async with self._engine.connect() as connection:
            if ids is not None and (failing := self._faults.among(ids)) is not None:
                await self._faults.fail(connection, failing)
            return [_to_product(row) for row in await connection.execute(query)]

    async def all_stock(self) -> list[Product]:
        async with self._engine.connect() as connection:
            return [_to_product(row) for row in await connection.execute(select(products))]

    async def below(self, threshold: int, limit: int) -> list[StockLevel]:
        """Products holding fewer than ``threshold`` units: the supplier's poll.

        Untraced, like a health probe: the supplier asks every few seconds, and an idle
        shop's traces would otherwise be nothing but this query. The deliveries it leads
        to are traced.
        """
        with suppress_instrumentation():
            async with self._engine.connect() as connection:
                rows = await connection.execute(
                    select(products.c.id, products.c.stock)
                    .where(products.c.stock < threshold)
                    .order_by(products.c.id)
                    .limit(limit)
                )
                return [StockLevel(product_id, units) for product_id, units in rows]

    async def restock(self, product_id: int, units: int, below: int) -> int | None:
        """``stock = stock + units``, computed by the database under its row lock.

        Never a stock value written from an earlier read: a deduction committed between
        the supplier's poll and this update is kept (the units are added to what is there
        now). The condition is checked at write time too, so two suppliers (two replicas
        of the service) polling at once deliver once.
        """
        async with self._engine.begin() as connection:
            return (
                await connection.execute(
                    update(products)
                    .where(products.c.id == product_id, products.c.stock < below)
                    .values(stock=products.c.stock + units)
                    .returning(products.c.stock)
                )
            ).scalar_one_or_none()

    async def deduct(self, deduction: Deduction) -> DeductionResult:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(reservations).values(
                        reservation_id=deduction.reservation_id,
                        status=DEDUCTED,
                        created_at=datetime.now(UTC),
                    )
                )
                stock_after = tuple(
                    [
                        StockLevel(line.product_id, await self._take(connection, line))
                        for line in deduction.lines
                    ]
                )
                await connection.execute(
                    insert(reservation_lines),
                    [
                        {
                            "reservation_id": deduction.reservation_id,
                            "product_id": line.product_id,
                            "quantity": line.quantity,
                        }
                        for line in deduction.lines
                    ],
                )
        except IntegrityError:
            return await self._replay(deduction)
        return DeductionResult(deduction=deduction, stock_after=stock_after, replayed=False)

    async def _take(self, connection: AsyncConnection, line: StockLine) -> int:
        if self._faults.among((line.product_id,)) is not None:
            await self._faults.fail(connection, line.product_id)  # the whole deduction rolls back
        remaining = (
            await connection.execute(
                update(products)
                .where(products.c.id == line.product_id, products.c.stock >= line.quantity)
                .values(stock=products.c.stock - line.quantity)
                .returning(products.c.stock)
            )
        ).scalar_one_or_none()
        if remaining is not None:
            return remaining
        available = (
            await connection.execute(
                select(products.c.stock).where(products.c.id == line.product_id)
            )
        ).scalar_one_or_none()
        if available is None:
            raise ProductNotFound(line.product_id)
        raise InsufficientStock(line.product_id, line.quantity, available)

    async def _replay(self, deduction: Deduction) -> DeductionResult:
        """The reservation exists already: the same request again, or a conflicting one."""
        async with self._engine.connect() as connection:
            status = (
                await connection.execute(
                    select(reservations.c.status).where(
                        reservations.c.reservation_id == deduction.reservation_id
                    )
                )
            ).scalar_one_or_none()
            held = (
                await connection.execute(
                    select(reservation_lines.c.product_id, reservation_lines.c.quantity)
                    .where(reservation_lines.c.reservation_id == deduction.reservation_id)
                    .order_by(reservation_lines.c.product_id)
                )
            ).all()
            levels = await connection.execute(
                select(products.c.id, products.c.stock)
                .where(products.c.id.in_([line.product_id for line in deduction.lines]))
                .order_by(products.c.id)
            )
            stock = tuple(StockLevel(product_id, units) for product_id, units in levels)
        if status is None:
            raise ReservationConflict("the reservation could not be recorded; retry")
        if status == RELEASED:
            raise ReservationConflict(
                f"Reservation {deduction.reservation_id} was released and cannot be reused."
            )
        if tuple(StockLine(pid, qty) for pid, qty in held) != deduction.lines:
            raise ReservationConflict(
                f"Reservation {deduction.reservation_id} already holds different lines."
            )
        return DeductionResult(deduction=deduction, stock_after=stock, replayed=True)

    async def release(self, reservation_id: str) -> Release:
        async with self._engine.begin() as connection:
            released = await connection.execute(
                update(reservations)
                .where(
                    reservations.c.reservation_id == reservation_id,
                    reservations.c.status == DEDUCTED,
                )
                .values(status=RELEASED)
            )
            if released.rowcount != 1:
                return Release(reservation_id, stock_after=())
            lines = (
                await connection.execute(
                    select(reservation_lines.c.product_id, reservation_lines.c.quantity).where(
                        reservation_lines.c.reservation_id == reservation_id
                    )
                )
            ).all()
            stock_after: list[StockLevel] = []
            if (failing := self._faults.among(pid for pid, _ in lines)) is not None:
                await self._faults.fail(connection, failing)  # released stays undone
            for product_id, quantity in sorted(lines):
                units = (
                    await connection.execute(
                        update(products)
                        .where(products.c.id == product_id)
                        .values(stock=products.c.stock + quantity)
                        .returning(products.c.stock)
                    )
                ).scalar_one()
                stock_after.append(StockLevel(product_id, units))
            return Release(reservation_id, tuple(stock_after))
