"""Business metrics of the products service, and the lines of its background events."""

from collections.abc import Iterable

from minishop.observability import ServiceMetrics
from minishop.observability.logging import get_logger
from minishop.products.domain.model import Product, Restock, StockLevel


class InventoryMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        service = metrics.service
        self._log = get_logger("minishop.products")  # per app: a test's log stream reaches it
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
        self._restocks = metrics.counter(
            "restocks", "Deliveries of the simulated supplier, one per product restocked."
        ).labels(service)
        self._restocked_units = metrics.counter(
            "restocked_units", "Units the simulated supplier delivered."
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

    def restocked(self, restock: Restock) -> None:
        """A delivery: counted, the stock gauge moved, and one line inside its span."""
        self._restocks.inc()
        self._restocked_units.inc(restock.units)
        self.set_stock([StockLevel(restock.product_id, restock.stock_after)])
        self._log.info(
            "product restocked",
            product_id=restock.product_id,
            units=restock.units,
            stock_after=restock.stock_after,
        )
