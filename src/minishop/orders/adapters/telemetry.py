"""Business metrics of the orders service."""

from minishop.observability import ServiceMetrics
from minishop.orders.domain.model import Order
from minishop.platform.money import cents_to_number

ORDER_VALUE_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


class OrderMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        service = metrics.service
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

    def created(self, order: Order) -> None:
        self._created.inc()
        self._value.observe(cents_to_number(order.total_cents))

    def rejected(self, reason: str) -> None:
        self._rejected.labels(self._service, reason).inc()

    def status_changed(self, status: str) -> None:
        self._status.labels(self._service, status).inc()
