"""Payments use cases: pay an order once, and make sure orders hears of every outcome.

A charge in progress is a ``processing`` payment, and at most one may exist per order
(a unique index), so a second charge of the same order is refused while one runs.
That row is a lease: the process charging renews it every ``CHARGE_RENEW_SECONDS``.
When the process dies mid-charge (a crash, a SIGKILL) nobody renews it, and after
``CHARGE_LEASE`` the reconciler marks it ``failed`` with reason ``interrupted``, which
frees the order for a new attempt within seconds of the restart.

Why failing it is safe: the provider is called from inside the charging process, so a
charge whose process died was never completed by the provider (the simulated one lives
and dies with the process). A real provider would be asked for the outcome of the
payment id instead, the id being sent with each charge as the provider's idempotency
key. Never two successful charges for one order: the unique index allows one active
payment per order, and a payment leaves ``processing`` once only (conditional update).

A charge can succeed after its order closed: it expired (ORDERS_PAYMENT_TIMEOUT_SECONDS)
between the payment's check and the charge's outcome, or another payment paid it. Orders
then refuses the outcome (409), and the charge is refunded: the provider gives it back and
the payment goes ``succeeded`` -> ``refunded`` with reason ``order_closed``, a conditional
update, so the request and the reconciler, should both see the refusal, refund it once.
The provider's refund goes first, keyed by the payment id (idempotent at the provider): a
crash between the two leaves a ``succeeded`` unsynced payment the reconciler refunds again
harmlessly, never a ``refunded`` payment whose money was kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from minishop.payments.application.ports import (
    OrderBook,
    PaymentProvider,
    PaymentRepository,
    RefundListener,
)
from minishop.payments.domain.model import (
    ORDER_CLOSED,
    PROVIDER_UNREACHABLE,
    ChargeOutcome,
    OrderNotFound,
    Payment,
    PaymentNotFound,
    PaymentStatus,
    ProviderUnreachable,
    card_last4,
)
from minishop.platform.money import cents_to_number

CHARGE_LEASE = timedelta(seconds=6)
"""A charge in progress not renewed for this long was cut short by its process's death."""
CHARGE_RENEW_SECONDS = 2.0
"""How often the charging process renews its charge: three renewals fit in one lease."""
INTERRUPTED = "interrupted"


class PaymentService:
    def __init__(
        self,
        repository: PaymentRepository,
        provider: PaymentProvider,
        orders: OrderBook,
        tracer: trace.Tracer,
        refunds: RefundListener | None = None,
    ) -> None:
        self._repository = repository
        self._provider = provider
        self._orders = orders
        self._tracer = tracer
        self._refunds = refunds  # counts and logs each refund, whichever path made it
        self._charging: set[str] = set()  # payment ids this process is charging right now

    async def pay(self, order_id: int, card_number: str | None = None) -> Payment:
        """Charge the order's total; the outcome, success or failure, is a result, not an error.

        Except when the provider cannot be reached: the payment is then recorded ``failed``
        (reason ``provider_unreachable``, nothing charged) and :class:`ProviderUnreachable`
        carries it, since the caller must hear that the provider, not the card, failed.
        A charge whose order closed meanwhile comes back ``refunded`` (reason ``order_closed``).
        """
        last4 = card_last4(card_number)
        with self._tracer.start_as_current_span("ProcessPayment") as span:
            span.set_attribute("order.id", order_id)
            order = await self._orders.get(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            order.ensure_payable()
            payment = await self._repository.start(order.id, order.total_cents, last4)
            span.set_attribute("payment.id", payment.id)
            span.set_attribute("payment.amount", cents_to_number(payment.amount_cents))
            try:
                outcome = await self._charge(payment)
            except ProviderUnreachable as exc:
                # Leaving the span with the exception records it there as an event (ERROR).
                payment = await self._record(payment, ChargeOutcome(False, PROVIDER_UNREACHABLE))
                self._describe(span, payment)
                # Failed, never charged: orders hears it, so the order can be paid again.
                raise ProviderUnreachable(exc.detail, await self._sync(payment)) from exc
            payment = await self._sync(await self._record(payment, outcome))
            self._describe(span, payment)
            return payment

    @staticmethod
    def _describe(span: trace.Span, payment: Payment) -> None:
        """The outcome on the ``ProcessPayment`` span: a failure is an ERROR with its reason."""
        span.set_attribute("payment.result", payment.status.value)
        if payment.status is not PaymentStatus.SUCCEEDED:
            span.set_attribute("payment.failure_reason", payment.reason or "unknown")
            span.set_status(Status(StatusCode.ERROR, payment.reason))

    async def _charge(self, payment: Payment) -> ChargeOutcome | None:
        """Ask the provider, renewing the charge's lease meanwhile.

        None when the lease was lost (another process declared the charge interrupted):
        the provider call is then cancelled, so it cannot succeed behind that decision.
        """
        self._charging.add(payment.id)
        charge = asyncio.ensure_future(
            self._provider.charge(payment.amount_cents, payment.order_id)
        )
        try:
            while True:
                done, _ = await asyncio.wait({charge}, timeout=CHARGE_RENEW_SECONDS)
                if done:
                    return charge.result()
                if not await self._repository.renew(payment.id):
                    return None
        finally:
            charge.cancel()  # nothing when it finished; stops it when we return early or fail
            self._charging.discard(payment.id)

    async def _record(self, payment: Payment, outcome: ChargeOutcome | None) -> Payment:
        """Store the outcome; if the charge was resolved without us meanwhile, read that."""
        if outcome is not None:
            with contextlib.suppress(PaymentNotFound):
                return await self._repository.finish(payment.id, outcome)
        return await self.get(payment.id)

    async def _sync(self, payment: Payment) -> Payment:
        """Tell orders; if it cannot hear now, the reconciler tells it later.

        Returns the payment as it ends up: ``refunded`` if orders refused its charge.
        """
        try:
            accepted = await self._orders.record_result(
                payment.order_id, payment.id, payment.status is PaymentStatus.SUCCEEDED
            )
        except Exception as exc:
            trace.get_current_span().add_event(
                "payment.order_sync_deferred", {"error": type(exc).__name__}
            )
            return payment
        return await self._settle(payment, accepted)

    async def _settle(self, payment: Payment, accepted: bool) -> Payment:
        """Orders has answered: refund a charge it refused, then stop telling it."""
        if not accepted and payment.status is PaymentStatus.SUCCEEDED:
            payment = await self._refund(payment)
        # A refused failure needs nothing: orders already holds a later outcome.
        await self._repository.mark_synced(payment.id)
        return payment

    async def _refund(self, payment: Payment) -> Payment:
        """Give back a charge whose order closed while it ran; once, whoever asks first."""
        await self._provider.refund(payment.id, payment.amount_cents)
        try:
            refunded = await self._repository.refund(payment.id, ORDER_CLOSED)
        except PaymentNotFound:
            return await self.get(payment.id)  # the other path refunded it meanwhile
        trace.get_current_span().add_event(
            "payment.refunded",
            {"payment.id": refunded.id, "payment.refund_reason": ORDER_CLOSED},
        )
        if self._refunds is not None:
            self._refunds.refunded(refunded)
        return refunded

    async def get(self, payment_id: str) -> Payment:
        payment = await self._repository.get(payment_id)
        if payment is None:
            raise PaymentNotFound(payment_id)
        return payment

    async def list(self, limit: int, offset: int, order_id: int | None = None) -> list[Payment]:
        return await self._repository.list(limit, offset, order_id)

    async def reconcile(self) -> int:
        """Fail charges a crash interrupted, then report every unsynced outcome to orders."""
        for payment in await self._repository.stale_processing(CHARGE_LEASE):
            if payment.id in self._charging:
                continue  # ours and alive: only a stalled event loop kept it from renewing
            try:
                await self._repository.finish(payment.id, ChargeOutcome(False, INTERRUPTED))
            except PaymentNotFound:
                continue  # its charge finished after all, between our read and our write
        synced = 0
        for payment in await self._repository.unsynced():
            accepted = await self._orders.record_result(
                payment.order_id, payment.id, payment.status is PaymentStatus.SUCCEEDED
            )
            if accepted or payment.status is not PaymentStatus.SUCCEEDED:
                await self._settle(payment, accepted)
            else:  # a late refusal: the refund gets a trace of its own
                with self._tracer.start_as_current_span("RefundPayment") as span:
                    span.set_attribute("order.id", payment.order_id)
                    span.set_attribute("payment.id", payment.id)
                    self._describe(span, await self._settle(payment, accepted))
            synced += 1
        return synced
