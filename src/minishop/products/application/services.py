"""Products use cases: the catalog, and stock taken and given back for orders."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace

from minishop.products.application.ports import ProductRepository
from minishop.products.domain.model import (
    Deduction,
    DeductionResult,
    InsufficientStock,
    NewProduct,
    Product,
    ProductNotFound,
    Release,
)


class ProductService:
    def __init__(self, repository: ProductRepository, tracer: trace.Tracer) -> None:
        self._repository = repository
        self._tracer = tracer

    async def add(self, sku: str, name: str, price_cents: int, stock: int) -> Product:
        return await self._repository.add(NewProduct.create(sku, name, price_cents, stock))

    async def get(self, product_id: int) -> Product:
        product = await self._repository.get(product_id)
        if product is None:
            raise ProductNotFound(product_id)
        return product

    async def list(
        self, limit: int, offset: int, ids: Sequence[int] | None = None
    ) -> list[Product]:
        return await self._repository.list(limit, offset, ids)

    async def deduct(self, deduction: Deduction) -> DeductionResult:
        """Take a deduction's stock, all lines or none; a repeat of it is a replay."""
        with self._tracer.start_as_current_span("DeductInventory") as span:
            product_ids = [line.product_id for line in deduction.lines]
            span.set_attribute("reservation.id", deduction.reservation_id)
            span.set_attribute("order.item_count", deduction.item_count)
            span.set_attribute("product.ids", product_ids)
            if len(product_ids) == 1:
                span.set_attribute("product.id", product_ids[0])
            try:
                result = await self._repository.deduct(deduction)
            except InsufficientStock as exc:
                span.set_attribute("inventory.result", "insufficient_stock")
                span.set_attribute("product.id", exc.product_id)
                raise
            span.set_attribute("inventory.result", "replayed" if result.replayed else "deducted")
            return result

    async def release(self, reservation_id: str) -> Release:
        """Give a reservation's stock back; safe to repeat (nothing is given back twice)."""
        with self._tracer.start_as_current_span("ReleaseInventory") as span:
            span.set_attribute("reservation.id", reservation_id)
            release = await self._repository.release(reservation_id)
            span.set_attribute("inventory.released", release.released)
            return release
