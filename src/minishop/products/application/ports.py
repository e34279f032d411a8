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
