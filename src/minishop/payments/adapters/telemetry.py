"""Business metrics of the payments service."""

from collections.abc import Callable

from minishop.observability import ServiceMetrics
from minishop.payments.domain.model import PAYMENT_PROVIDER, Payment, PaymentStatus
from minishop.platform.money import cents_to_number


class PaymentMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics
        self._service = metrics.service
        self._payments = metrics.counter(
            "payments", "Payment attempts by result and failure reason.", ["result", "reason"]
        )
        self._revenue = metrics.counter(
            "revenue", "Money taken by succeeded payments, in the shop's currency."
        ).labels(metrics.service)
        self._failure_rate = metrics.gauge(
            "payment_provider_failure_rate",
            "Share of charges the simulated provider declines now: the payment_failure"
            " flag's while it is on, else the configured base rate (PAYMENTS_FAILURE_RATE).",
        ).labels(metrics.service)

    def charged(self, payment: Payment) -> None:
        if payment.status == PaymentStatus.SUCCEEDED:
            self._payments.labels(self._service, "succeeded", "none").inc()
            self._revenue.inc(cents_to_number(payment.amount_cents))
        else:
            self._payments.labels(self._service, "failed", payment.reason or "unknown").inc()

    def provider_unreachable(self, payment: Payment | None) -> None:
        """A charge that could not reach the provider: a failed payment and a lost dependency."""
        if payment is not None:
            self.charged(payment)
        self._metrics.unreachable(PAYMENT_PROVIDER)

    def follow_failure_rate(self, read: Callable[[], float]) -> None:
        """Show the rate in force, read at each scrape (nothing on the charge's path)."""
        self._failure_rate.set_function(read)
