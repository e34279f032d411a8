"""Business metrics of the orders service, and the lines of its background events."""

from minishop.observability import ServiceMetrics
from minishop.observability.logging import get_logger
from minishop.orders.domain.model import Order
from minishop.platform.money import cents_to_number

ORDER_VALUE_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


class OrderMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        service = metrics.service
        self._log = get_logger("minishop.orders")  # per app: a test's log stream reaches it
        self._service = service
        self._created = metrics.counter("orders_created", "Orders placed.").labels(service)
        self._value = metrics.histogram(
            "order_value",
            "Value of each order placed, in the shop's currency.",
            ORDER_VALUE_BUCKETS,
        ).labels(service)
        self._rejected = metrics.counter(
            "orders_rejected", "Orders refused, by reason.", ["reason"]
        )
        self._status = metrics.counter(
            "order_status_changes", "Orders moved to a status by a payment outcome.", ["status"]
        )
        self._expired = metrics.counter(
            "orders_expired", "Orders unpaid for longer than the timeout, their stock given back."
        ).labels(service)

    def created(self, order: Order) -> None:
        self._created.inc()
        self._value.observe(cents_to_number(order.total_cents))

    def rejected(self, reason: str) -> None:
        self._rejected.labels(self._service, reason).inc()

    def status_changed(self, status: str) -> None:
        self._status.labels(self._service, status).inc()

    def expired(self, order: Order) -> None:
        """An order expired: counted, and one line inside its ``ExpireOrder`` span."""
        self._expired.inc()
        self._log.info(
            "order expired",
            order_id=order.id,
            status_before=order.status.value,
            total=cents_to_number(order.total_cents),
        )

    def deferred(self, order: Order, reason: str) -> None:
        self._log.warning(
            "order expiry deferred: its stock could not be given back yet",
            order_id=order.id,
            reason=reason,
        )

    def paid_after_expiry(self, order_id: int, payment_id: str) -> None:
        """A charge succeeded for an order that expired meanwhile (the payment lost the race
        after its check): the order stays expired, and the customer is owed the charge."""
        self._log.warning(
            "payment succeeded for an expired order: refund due",
            order_id=order_id,
            payment_id=payment_id,
        )
