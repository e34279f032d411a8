"""Business metrics of the payments service.

Refunds: ``revenue_total`` counts the money of a payment when the client is told it
succeeded. A charge refunded before that answer (its order closed while it ran: the client
gets a 409) never reaches it. One refunded later by the reconciler (orders could not be
told at answer time) was counted, and a counter cannot go down; so refunds have counters
of their own, ``refunds_total{reason}`` and ``refunded_amount_total``, counting every
refund, and ``payments_total{result="refunded",reason="order_closed"}``.
"""

from collections.abc import Callable

from minishop.observability import ServiceMetrics
from minishop.observability.logging import get_logger
from minishop.payments.domain.model import PAYMENT_PROVIDER, Payment, PaymentStatus
from minishop.platform.money import cents_to_number


class PaymentMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics
        self._service = metrics.service
        self._log = get_logger("minishop.payments")  # per app: a test's log stream reaches it
        self._payments = metrics.counter(
            "payments", "Payment attempts by result and failure reason.", ["result", "reason"]
        )
        self._revenue = metrics.counter(
            "revenue", "Money taken by succeeded payments, in the shop's currency."
        ).labels(metrics.service)
        self._refunds = metrics.counter(
            "refunds",
            "Charges given back, by reason (order_closed: refused by orders).",
            ["reason"],
        )
        self._refunded_amount = metrics.counter(
            "refunded_amount", "Money given back by refunds, in the shop's currency."
        ).labels(metrics.service)
        self._failure_rate = metrics.gauge(
            "payment_provider_failure_rate",
            "Share of charges the simulated provider declines now: the payment_failure"
            " flag's while it is on, else the configured base rate (PAYMENTS_FAILURE_RATE).",
        ).labels(metrics.service)

    def charged(self, payment: Payment) -> None:
        """The outcome a client is answered; a refund was counted by :meth:`refunded`."""
        if payment.status == PaymentStatus.SUCCEEDED:
            self._payments.labels(self._service, "succeeded", "none").inc()
            self._revenue.inc(cents_to_number(payment.amount_cents))
        elif payment.status == PaymentStatus.REFUNDED:
            return
        else:
            self._payments.labels(self._service, "failed", payment.reason or "unknown").inc()

    def refunded(self, payment: Payment) -> None:
        """A charge was given back (by the request or the reconciler): counted and logged once."""
        reason = payment.reason or "unknown"
        self._payments.labels(self._service, "refunded", reason).inc()
        self._refunds.labels(self._service, reason).inc()
        self._refunded_amount.inc(cents_to_number(payment.amount_cents))
        self._log.warning(
            "payment refunded: order closed",
            reason=reason,
            order_id=payment.order_id,
            payment_id=payment.id,
            amount=cents_to_number(payment.amount_cents),
        )

    def provider_unreachable(self, payment: Payment | None) -> None:
        """A charge that could not reach the provider: a failed payment and a lost dependency."""
        if payment is not None:
            self.charged(payment)
        self._metrics.unreachable(PAYMENT_PROVIDER)

    def follow_failure_rate(self, read: Callable[[], float]) -> None:
        """Show the rate in force, read at each scrape (nothing on the charge's path)."""
        self._failure_rate.set_function(read)
