"""The simulated supplier: products that run low are restocked, so the shop can run for hours.

Under sustained orders the catalog would drain and every order end in ``409``. Each
round finds the products below the policy's threshold and delivers what brings each
back to its target. A delivery is a business event a person can watch: one
``SupplierRestock`` trace per round with a ``RestockProduct`` span per product, a log
line, counters, and the stock gauge moving. The search itself is polling, and stays
untraced (the adapter's business).
"""

from __future__ import annotations

from opentelemetry import trace

from minishop.products.application.ports import RestockEvents, SupplierStock
from minishop.products.domain.model import Restock, RestockPolicy, StockLevel

MAX_RESTOCKS_PER_ROUND = 100
"""Deliveries in one round at most: a huge catalog gone low is restocked over a few rounds,
each round a trace of bounded size."""


class Supplier:
    def __init__(
        self,
        stock: SupplierStock,
        policy: RestockPolicy,
        events: RestockEvents,
        tracer: trace.Tracer,
    ) -> None:
        self._stock = stock
        self._policy = policy
        self._events = events
        self._tracer = tracer

    async def restock_low(self) -> list[Restock]:
        """One round: restock every product below the threshold; the deliveries made."""
        low = await self._stock.below(self._policy.threshold, MAX_RESTOCKS_PER_ROUND)
        if not low:
            return []  # nothing to deliver: no trace, no line
        delivered: list[Restock] = []
        with self._tracer.start_as_current_span("SupplierRestock") as span:
            span.set_attribute("restock.threshold", self._policy.threshold)
            span.set_attribute("restock.target", self._policy.target)
            span.set_attribute("restock.product_count", len(low))
            for level in low:
                restock = await self._deliver(level)
                if restock is not None:
                    delivered.append(restock)
            span.set_attribute("restock.delivered_count", len(delivered))
            span.set_attribute("restock.units", sum(restock.units for restock in delivered))
        return delivered

    async def _deliver(self, level: StockLevel) -> Restock | None:
        with self._tracer.start_as_current_span("RestockProduct") as span:
            span.set_attribute("product.id", level.product_id)
            units = self._policy.units_for(level.units)
            span.set_attribute("restock.units", units)
            if units <= 0:
                span.set_attribute("restock.result", "not_needed")
                return None
            stock_after = await self._stock.restock(
                level.product_id, units, below=self._policy.threshold
            )
            if stock_after is None:  # orders' releases or another supplier got there first
                span.set_attribute("restock.units", 0)
                span.set_attribute("restock.result", "not_needed")
                return None
            restock = Restock(level.product_id, units, stock_after)
            span.set_attribute("restock.result", "restocked")
            span.set_attribute("product.stock_after", stock_after)
            self._events.restocked(restock)
            return restock
