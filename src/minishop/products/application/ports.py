"""What the products use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from minishop.products.domain.model import (
    Deduction,
    DeductionResult,
    NewProduct,
    Product,
    Release,
    Restock,
    StockLevel,
)


class ProductRepository(Protocol):
    async def add(self, product: NewProduct) -> Product:
        """Raises SkuTaken when the SKU exists."""
        ...

    async def get(self, product_id: int) -> Product | None: ...

    async def list(
        self, limit: int, offset: int, ids: Sequence[int] | None = None
    ) -> list[Product]: ...

    async def deduct(self, deduction: Deduction) -> DeductionResult:
        """Take every line's stock in one transaction, or none of it.

        Raises InsufficientStock, ProductNotFound, or ReservationConflict; a
        repeat of a deduction already made is a replay, not a second deduction.
        """
        ...

    async def release(self, reservation_id: str) -> Release:
        """Give a reservation's stock back once; nothing (no stock after) if none is held."""
        ...


class SupplierStock(Protocol):
    """The stock as the simulated supplier sees it: what runs low, and deliveries."""

    async def below(self, threshold: int, limit: int) -> list[StockLevel]:
        """Up to ``limit`` products holding fewer than ``threshold`` units, lowest id first."""
        ...

    async def restock(self, product_id: int, units: int, below: int) -> int | None:
        """Add ``units`` to the product's stock in one atomic update, only while it still
        holds fewer than ``below`` units; the stock after, or None when nothing was added
        (restocked meanwhile, or gone)."""
        ...


class RestockEvents(Protocol):
    """Where a delivery is reported (counted, logged, the stock gauge moved)."""

    def restocked(self, restock: Restock) -> None: ...
