"""Orders use cases: place an order, record its payment, clean up what a crash left behind."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from opentelemetry import trace

from minishop.orders.application.ports import Catalog, Inventory, OrderRepository, UserDirectory
from minishop.orders.domain.model import (
    Order,
    OrderNotFound,
    OrderRequest,
    OutOfStock,
    UnknownUser,
    price_lines,
)
from minishop.platform.money import cents_to_number

STALE_RESERVATION_AGE = timedelta(seconds=30)


class OrderService:
    def __init__(
        self,
        repository: OrderRepository,
        users: UserDirectory,
        catalog: Catalog,
        inventory: Inventory,
        tracer: trace.Tracer,
    ) -> None:
        self._repository = repository
        self._users = users
        self._catalog = catalog
        self._inventory = inventory
        self._tracer = tracer

    async def place(self, request: OrderRequest) -> Order:
        """Check the user, price the lines, take the stock, confirm: all of it or nothing.

        The order row is written first as ``reserving`` so that, whatever fails
        after the stock is taken (even a crash), a record remains from which the
        stock is given back: an order never exists without its stock, nor stock
        without its order.
        """
        with self._tracer.start_as_current_span("CreateOrder") as span:
            span.set_attribute("user.id", request.user_id)
            span.set_attribute("order.item_count", request.item_count)
            span.set_attribute("order.line_count", len(request.lines))
            if not await self._users.exists(request.user_id):
                raise UnknownUser(request.user_id)
            lines = price_lines(request, await self._catalog.prices(request.product_ids))
            order = await self._repository.add_reserving(
                request.user_id, lines, reservation_id=uuid.uuid4().hex
            )
            span.set_attribute("order.id", order.id)
            span.set_attribute("order.total", cents_to_number(order.total_cents))
            try:
                await self._inventory.deduct(order.reservation)
            except OutOfStock:
                await self._repository.discard(order.id)
                span.set_attribute("order.result", "out_of_stock")
                raise
            except BaseException:
                await self._abandon(order)
                raise
            try:
                confirmed = await self._repository.confirm(order)
            except BaseException:
                await self._abandon(order)
                raise
            span.set_attribute("order.result", "created")
            return confirmed

    async def _abandon(self, order: Order) -> None:
        """Give the stock back and drop the order; if that fails too, reconciliation will."""
        try:
            await self._inventory.release(order.reservation_id)
            await self._repository.discard(order.id)
        except Exception:
            trace.get_current_span().add_event("order.abandon_deferred", {"order.id": order.id})

    async def get(self, order_id: int) -> Order:
        order = await self._repository.get(order_id)
        if order is None:
            raise OrderNotFound(order_id)
        return order

    async def list(self, limit: int, offset: int, user_id: int | None = None) -> list[Order]:
        return await self._repository.list(limit, offset, user_id)

    async def record_payment(self, order_id: int, succeeded: bool, payment_id: str) -> Order:
        """Apply a payment outcome; the domain refuses to pay an order twice."""
        order = await self.get(order_id)
        new_status = order.after_payment(succeeded, payment_id)
        if new_status == order.status and order.payment_id == payment_id:
            return order  # the same outcome reported again
        moved = await self._repository.set_status(order.id, order.status, new_status, payment_id)
        if not moved:  # another outcome landed first: judge against it
            return await self.record_payment(order_id, succeeded, payment_id)
        return replace(order, status=new_status, payment_id=payment_id)

    async def reconcile(self) -> int:
        """Release the stock of orders left ``reserving`` by a crash or a failed clean-up."""
        released = 0
        for order in await self._repository.stale_reserving(STALE_RESERVATION_AGE):
            with self._tracer.start_as_current_span("ReconcileOrder") as span:
                span.set_attribute("order.id", order.id)
                await self._inventory.release(order.reservation_id)
                await self._repository.discard(order.id)
                released += 1
        return released
