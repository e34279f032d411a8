"""Products, stock, and the rules of taking stock for an order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MAX_LINES = 100
MAX_QUANTITY = 10_000
MAX_SKU_LENGTH = 64
MAX_NAME_LENGTH = 200
MAX_RESERVATION_ID_LENGTH = 64
MAX_STOCK = 1_000_000
MAX_PRICE_CENTS = 1_000_000_000
"""10,000,000.00: well inside the ``INTEGER`` cents column, so any price can be stored."""
MAX_PRODUCT_ID = 2**31 - 1
"""Ids are ``INTEGER`` keys: the largest value both SQLite and PostgreSQL hold."""
MAX_IDS_PER_LOOKUP = 100


class InvalidProduct(ValueError):
    """The data cannot describe a product."""


class InvalidDeduction(ValueError):
    """The request cannot describe a stock deduction."""


class ProductNotFound(LookupError):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"Product {product_id} does not exist.")
        self.product_id = product_id


class SkuTaken(Exception):
    def __init__(self, sku: str) -> None:
        super().__init__(f"A product with SKU {sku!r} already exists.")


class InsufficientStock(Exception):
    def __init__(self, product_id: int, requested: int, available: int) -> None:
        super().__init__(
            f"Not enough stock for product {product_id}: "
            f"{requested} requested, {available} available."
        )
        self.product_id = product_id
        self.requested = requested
        self.available = available


class ReservationConflict(Exception):
    """A reservation id reused for different lines, or after it was released."""


@dataclass(frozen=True)
class NewProduct:
    sku: str
    name: str
    price_cents: int
    stock: int

    @classmethod
    def create(cls, sku: str, name: str, price_cents: int, stock: int) -> NewProduct:
        sku = sku.strip().upper()
        name = " ".join(name.split())
        if not sku or len(sku) > MAX_SKU_LENGTH:
            raise InvalidProduct(f"sku must be 1 to {MAX_SKU_LENGTH} characters")
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidProduct(f"name must be 1 to {MAX_NAME_LENGTH} characters")
        if not 0 < price_cents <= MAX_PRICE_CENTS:
            raise InvalidProduct(
                f"price must be greater than zero and at most {MAX_PRICE_CENTS / 100:.2f}"
            )
        if not 0 <= stock <= MAX_STOCK:
            raise InvalidProduct(f"stock must be between 0 and {MAX_STOCK}")
        return cls(sku=sku, name=name, price_cents=price_cents, stock=stock)


@dataclass(frozen=True)
class Product:
    id: int
    sku: str
    name: str
    price_cents: int
    stock: int


@dataclass(frozen=True)
class StockLine:
    """Units of one product to take from (or give back to) its stock."""

    product_id: int
    quantity: int


@dataclass(frozen=True)
class StockLevel:
    """Units of one product in stock after a change."""

    product_id: int
    units: int


@dataclass(frozen=True)
class Deduction:
    """Stock taken for one order, all lines or none, under the order's reservation id."""

    reservation_id: str
    lines: tuple[StockLine, ...]

    @classmethod
    def create(cls, reservation_id: str, lines: Iterable[StockLine]) -> Deduction:
        requested = tuple(lines)
        reservation_id = reservation_id.strip()
        if not reservation_id or len(reservation_id) > MAX_RESERVATION_ID_LENGTH:
            raise InvalidDeduction(
                f"reservation_id must be 1 to {MAX_RESERVATION_ID_LENGTH} characters"
            )
        if not requested:
            raise InvalidDeduction("a deduction needs at least one line")
        if len(requested) > MAX_LINES:
            raise InvalidDeduction(f"a deduction has at most {MAX_LINES} lines")
        merged: Counter[int] = Counter()
        for line in requested:
            if line.quantity <= 0 or line.quantity > MAX_QUANTITY:
                raise InvalidDeduction(f"quantity must be between 1 and {MAX_QUANTITY}")
            merged[line.product_id] += line.quantity
        # A stable order of updates keeps two concurrent deductions from deadlocking.
        ordered = tuple(StockLine(pid, merged[pid]) for pid in sorted(merged))
        return cls(reservation_id=reservation_id, lines=ordered)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class DeductionResult:
    """A deduction taken (or found taken already: a replay), the stock it left, and the
    price of each line's product (the caller prices its order from them)."""

    deduction: Deduction
    stock_after: tuple[StockLevel, ...]
    replayed: bool
    unit_prices_cents: tuple[int, ...]
    """One per line of ``deduction.lines``, in the same order."""


@dataclass(frozen=True)
class Release:
    """A reservation's stock given back, and the stock after; nothing if none was held.

    Releasing is safe to repeat: a reservation released already, or never taken,
    gives nothing back and leaves ``stock_after`` empty.
    """

    reservation_id: str
    stock_after: tuple[StockLevel, ...]

    @property
    def released(self) -> bool:
        return bool(self.stock_after)


class InvalidRestockPolicy(ValueError):
    """The supplier's threshold and target cannot work together."""


@dataclass(frozen=True)
class RestockPolicy:
    """When the simulated supplier delivers, and how much.

    A product whose stock falls below ``threshold`` is brought back up to ``target``:
    sustained orders then never drain the catalog, and a restock is a business event
    (a delivery) rather than a trickle of single units.
    """

    threshold: int
    target: int

    @classmethod
    def create(cls, threshold: int, target: int) -> RestockPolicy:
        if not 0 < threshold <= MAX_STOCK:
            raise InvalidRestockPolicy(f"the threshold must be between 1 and {MAX_STOCK}")
        if not threshold < target <= MAX_STOCK:
            raise InvalidRestockPolicy(
                f"the target must be above the threshold ({threshold}) and at most {MAX_STOCK}"
            )
        return cls(threshold, target)

    def units_for(self, stock: int) -> int:
        """Units to deliver for a product holding ``stock``: none unless it is below the
        threshold, else what brings it to the target."""
        return self.target - stock if 0 <= stock < self.threshold else 0


@dataclass(frozen=True)
class Restock:
    """Units delivered to one product, and its stock after the delivery."""

    product_id: int
    units: int
    stock_after: int
