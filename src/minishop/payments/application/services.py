"""Payments use cases: pay an order once, and make sure orders hears of every outcome."""

from __future__ import annotations

from datetime import timedelta

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from minishop.payments.application.ports import OrderBook, PaymentProvider, PaymentRepository
from minishop.payments.domain.model import (
    ChargeOutcome,
    OrderNotFound,
    Payment,
    PaymentNotFound,
    card_last4,
)

STALE_CHARGE_AGE = timedelta(minutes=2)


class PaymentService:
    def __init__(
        self,
        repository: PaymentRepository,
        provider: PaymentProvider,
        orders: OrderBook,
        tracer: trace.Tracer,
    ) -> None:
        self._repository = repository
        self._provider = provider
        self._orders = orders
        self._tracer = tracer

    async def pay(self, order_id: int, card_number: str | None = None) -> Payment:
        """Charge the order's total; the outcome, success or failure, is a result, not an error."""
        last4 = card_last4(card_number)
        with self._tracer.start_as_current_span("ProcessPayment") as span:
            span.set_attribute("order.id", order_id)
            order = await self._orders.get(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            order.ensure_payable()
            payment = await self._repository.start(order.id, order.total_cents, last4)
            span.set_attribute("payment.id", payment.id)
            span.set_attribute("payment.amount", payment.amount_cents / 100)
            outcome = await self._provider.charge(payment.amount_cents, order.id)
            payment = await self._repository.finish(payment.id, outcome)
            span.set_attribute("payment.result", payment.status.value)
            if not outcome.succeeded:
                span.set_attribute("payment.failure_reason", outcome.reason or "unknown")
                span.set_status(Status(StatusCode.ERROR, outcome.reason))
            return await self._sync(payment)

    async def _sync(self, payment: Payment) -> Payment:
        """Tell orders; if it cannot hear now, the reconciler tells it later."""
        try:
            await self._orders.record_result(
                payment.order_id, payment.id, payment.status.value == "succeeded"
            )
        except Exception as exc:
            trace.get_current_span().add_event(
                "payment.order_sync_deferred", {"error": type(exc).__name__}
            )
            return payment
        await self._repository.mark_synced(payment.id)
        return payment

    async def get(self, payment_id: str) -> Payment:
        payment = await self._repository.get(payment_id)
        if payment is None:
            raise PaymentNotFound(payment_id)
        return payment

    async def list(self, limit: int, offset: int, order_id: int | None = None) -> list[Payment]:
        return await self._repository.list(limit, offset, order_id)

    async def reconcile(self) -> int:
        """Fail charges a crash interrupted, then report every unsynced outcome to orders."""
        for payment in await self._repository.stale_processing(STALE_CHARGE_AGE):
            await self._repository.finish(payment.id, ChargeOutcome(False, "interrupted"))
        synced = 0
        for payment in await self._repository.unsynced():
            await self._orders.record_result(
                payment.order_id, payment.id, payment.status.value == "succeeded"
            )
            await self._repository.mark_synced(payment.id)
            synced += 1
        return synced
