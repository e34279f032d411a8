"""Business metrics of the products service."""

from collections.abc import Iterable

from minishop.observability import ServiceMetrics
from minishop.products.domain.model import Product, StockLevel


class InventoryMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        service = metrics.service
        self._stock = metrics.gauge("product_stock", "Units in stock per product.", ["product_id"])
        deductions = metrics.counter(
            "inventory_deductions", "Stock deductions for orders, by outcome.", ["result"]
        )
        self._service = service
        self._deducted = deductions.labels(service, "deducted")
        self._insufficient = deductions.labels(service, "insufficient_stock")
        self._released = metrics.counter(
            "inventory_releases", "Reservations given back (orders that did not go through)."
        ).labels(service)

    def set_stock(self, levels: Iterable[StockLevel]) -> None:
        for level in levels:
            self._stock.labels(self._service, str(level.product_id)).set(level.units)

    def load(self, catalog: Iterable[Product]) -> None:
        self.set_stock(StockLevel(product.id, product.stock) for product in catalog)

    def deducted(self, stock_after: Iterable[StockLevel]) -> None:
        self._deducted.inc()
        self.set_stock(stock_after)

    def insufficient(self) -> None:
        self._insufficient.inc()

    def released(self, stock_after: Iterable[StockLevel]) -> None:
        self._released.inc()
        self.set_stock(stock_after)
