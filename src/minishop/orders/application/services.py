"""Orders use cases: place an order, record its payment, clean up what a crash left behind."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from opentelemetry import trace

from minishop.orders.application.ports import Inventory, OrderRepository, UserDirectory
from minishop.orders.domain.model import (
    PAYABLE,
    InvalidOrder,
    Order,
    OrderNotFound,
    OrderRequest,
    OutOfStock,
    Reservation,
    UnknownProducts,
    UnknownUser,
    payment_outcome,
    price_lines,
)
from minishop.platform.money import cents_to_number

STALE_RESERVATION_AGE = timedelta(seconds=30)
NOTHING_TAKEN = (OutOfStock, UnknownProducts, InvalidOrder)
"""Refusals of a deduction that took no stock: the order's record is dropped, no release."""


class OrderService:
    def __init__(
        self,
        repository: OrderRepository,
        users: UserDirectory,
        inventory: Inventory,
        tracer: trace.Tracer,
    ) -> None:
        self._repository = repository
        self._users = users
        self._inventory = inventory
        self._tracer = tracer

    async def place(self, request: OrderRequest) -> Order:
        """Check the user, take the stock (which answers the prices), confirm: all of it or
        nothing.

        The order row is written first as ``reserving`` (no lines yet, but its reservation
        id) so that, whatever fails after the stock is taken (even a crash), a record
        remains from which the stock is given back: an order never exists without its
        stock, nor stock without its order. The prices come back with the stock, so the
        order costs one call to products, and its lines and total are written with the
        confirmation, in one transaction.
        """
        with self._tracer.start_as_current_span("CreateOrder") as span:
            span.set_attribute("user.id", request.user_id)
            span.set_attribute("order.item_count", request.item_count)
            span.set_attribute("order.line_count", len(request.lines))
            if not await self._users.exists(request.user_id):
                raise UnknownUser(request.user_id)
            order = await self._repository.add_reserving(
                request.user_id, reservation_id=uuid.uuid4().hex
            )
            span.set_attribute("order.id", order.id)
            try:
                prices = await self._inventory.deduct(
                    Reservation(order.reservation_id, request.lines)
                )
            except NOTHING_TAKEN as exc:
                await self._repository.discard(order.id)
                if isinstance(exc, OutOfStock):
                    span.set_attribute("order.result", "out_of_stock")
                raise
            except BaseException:
                await self._abandon(order)
                raise
            try:
                # A total beyond what the order can record is refused here, after the stock
                # was taken (the prices come with it): the stock is given back.
                confirmed = await self._repository.confirm(order, price_lines(request, prices))
            except BaseException:
                await self._abandon(order)
                raise
            span.set_attribute("order.total", cents_to_number(confirmed.total_cents))
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
        """Apply a payment outcome; the domain refuses to pay an order twice.

        The usual outcome, for an order waiting for its payment, is one conditional write.
        Only when it changed nothing (a replay, a refusal, another outcome landing first) is
        the order read and judged by the domain.
        """
        moved = await self._repository.record_outcome(
            order_id, PAYABLE, payment_outcome(succeeded), payment_id
        )
        if moved is not None:
            return moved
        return await self._judge_payment(order_id, succeeded, payment_id)

    async def _judge_payment(self, order_id: int, succeeded: bool, payment_id: str) -> Order:
        order = await self.get(order_id)
        new_status = order.after_payment(succeeded, payment_id)
        if new_status == order.status and order.payment_id == payment_id:
            return order  # the same outcome reported again
        moved = await self._repository.set_status(order.id, order.status, new_status, payment_id)
        if not moved:  # another outcome landed first: judge against it
            return await self._judge_payment(order_id, succeeded, payment_id)
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
