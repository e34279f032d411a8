"""Business metrics of the payments service."""

from minishop.observability import ServiceMetrics
from minishop.payments.domain.model import Payment, PaymentStatus
from minishop.platform.money import cents_to_number


class PaymentMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._service = metrics.service
        self._payments = metrics.counter(
            "payments", "Payment attempts by result and failure reason.", ["result", "reason"]
        )
        self._revenue = metrics.counter(
            "revenue", "Money taken by succeeded payments, in the shop's currency."
        ).labels(metrics.service)
        self._failure_rate = metrics.gauge(
            "payment_provider_failure_rate", "Configured failure rate of the simulated provider."
        ).labels(metrics.service)

    def charged(self, payment: Payment) -> None:
        if payment.status == PaymentStatus.SUCCEEDED:
            self._payments.labels(self._service, "succeeded", "none").inc()
            self._revenue.inc(cents_to_number(payment.amount_cents))
        else:
            self._payments.labels(self._service, "failed", payment.reason or "unknown").inc()

    def provider_configured(self, failure_rate: float) -> None:
        self._failure_rate.set(failure_rate)
