"""What a simulated shopper decides, free of Locust: which products to buy, how many, which
answers are normal, which bad requests to send, and how every request is marked synthetic.

A journey must leave the shop able to run for hours: it buys one or two units of products
whose known stock stays above a floor, so the load alone never empties a shelf (the
supplier restocks in parallel), and it creates the products it needs when the catalog is
empty.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

SYNTHETIC_KEY = "synthetic_request"
SESSION_KEY = "session.id"
FLOOR_STOCK = 20
"""A journey orders a product only while its known stock stays at or above this."""
MAX_QUANTITY = 2
MAX_LINES = 2
SEED_PRODUCTS = 3  # created when the catalog is empty
SEED_STOCK = 1_000
_PLACEHOLDER = re.compile(r"\{[^}/]*\}")


def new_session_id(rng: random.Random) -> str:
    """One simulated user's session: 16 hex digits, unique enough across runs."""
    return f"{rng.getrandbits(64):016x}"


def baggage_header(session_id: str) -> str:
    """The W3C ``baggage`` value every request of the session carries (values percent-encoded)."""
    return f"{SYNTHETIC_KEY}=true,{SESSION_KEY}={quote(session_id, safe='')}"


def failure_of(status: int, expected: frozenset[int]) -> str | None:
    """Why an answer counts as a failure in Locust's statistics, or None when it is normal.

    A declined payment (402), an order refused for stock (409) or a bad request refused with
    a 4xx are what the shop should answer, so they are not failures when the caller expected
    them; a 5xx, a connection error (status 0) or any unexpected status is.
    """
    if status in expected:
        return None
    if status == 0:
        return "no answer (connection error or timeout)"
    if status >= 500:
        return f"server error {status}"
    return f"unexpected status {status} (expected {', '.join(map(str, sorted(expected)))})"


@dataclass
class Catalog:
    """What the generator knows of the catalog: product ids and their last seen stock.

    One per process, shared by every simulated user (greenlets switch only on I/O, so
    no lock is needed). Stock taken by an order is subtracted at once, so users ordering
    at the same moment do not all pick the last units of the same product.
    """

    floor: int = FLOOR_STOCK
    stock: dict[int, int] = field(default_factory=dict)

    def learn(self, items: Iterable[Mapping[str, object]]) -> None:
        """Record the products of a list or get answer (``id`` and ``stock`` of each)."""
        for item in items:
            product_id, stock = item.get("id"), item.get("stock")
            if isinstance(product_id, int) and isinstance(stock, int):
                self.stock[product_id] = stock

    def forget_stock(self, product_id: int) -> None:
        """An order was refused for stock: assume none left until the next listing says."""
        if product_id in self.stock:
            self.stock[product_id] = 0

    @property
    def empty(self) -> bool:
        return not self.stock

    def random_id(self, rng: random.Random) -> int | None:
        return rng.choice(sorted(self.stock)) if self.stock else None

    def order_lines(self, rng: random.Random) -> list[dict[str, int]] | None:
        """One or two lines of one or two units, from products that stay above the floor;
        None when no product has stock to spare (the journey then only browses)."""
        lines = []
        candidates = [pid for pid, stock in sorted(self.stock.items()) if stock > self.floor]
        rng.shuffle(candidates)
        for product_id in candidates[: rng.randint(1, MAX_LINES)]:
            spare = self.stock[product_id] - self.floor
            quantity = min(rng.randint(1, MAX_QUANTITY), spare)
            self.stock[product_id] -= quantity
            lines.append({"product_id": product_id, "quantity": quantity})
        return lines or None


def seed_products(session_id: str) -> list[dict[str, object]]:
    """The products a generator creates when the catalog is empty (skus unique to it)."""
    return [
        {
            "sku": f"LOAD-{session_id}-{number}",
            "name": f"Load test item {number}",
            "price": 5.0 + number,
            "stock": SEED_STOCK,
        }
        for number in range(1, SEED_PRODUCTS + 1)
    ]


def new_user(session_id: str, number: int) -> dict[str, str]:
    """A registration body: an address unique to this session."""
    return {"email": f"load-{session_id}-{number}@example.com", "name": f"Load shopper {number}"}


@dataclass(frozen=True)
class BadRequest:
    """A request a careless client sends, and the 4xx the shop must answer it with."""

    method: str
    path: str
    name: str  # the route template it is counted under
    body: Mapping[str, object] | None
    expected: frozenset[int]


_LARGEST_ID = 2**31 - 1  # the largest id any table holds: never a row in a lab
BAD_REQUESTS = (
    BadRequest("GET", f"/api/v1/products/{_LARGEST_ID}", "/api/v1/products/{product_id}",
               None, frozenset({404})),
    BadRequest("GET", "/api/v1/orders/latest", "/api/v1/orders/{order_id}", None,
               frozenset({422})),
    BadRequest("POST", "/order", "/order",
               {"user_id": 1, "items": [{"product_id": 1, "quantity": 0}]}, frozenset({422})),
    BadRequest("POST", "/order", "/order", {"user_id": 1, "items": []}, frozenset({422})),
    BadRequest("POST", "/payment/pay", "/payment/pay", {"order_id": _LARGEST_ID},
               frozenset({404})),
    BadRequest("POST", "/api/v1/users", "/api/v1/users", {"email": "", "name": ""},
               frozenset({422})),
    BadRequest("GET", "/api/v1/products/1/reviews", "/api/v1/products/{product_id}/reviews",
               None, frozenset({404})),
)  # fmt: skip


def flood_path(route: str, ids: Iterable[int], rng: random.Random) -> str:
    """The path a flood request asks for: each ``{placeholder}`` of the route becomes a
    known id (or 1), so ``/api/v1/products/{product_id}`` floods real products."""
    known = sorted(ids)

    def an_id(_match: re.Match[str]) -> str:
        return str(rng.choice(known)) if known else "1"

    return _PLACEHOLDER.sub(an_id, route)


def flood_name(route: str) -> str:
    """The statistics row of the flood's requests, apart from the journeys' own."""
    return f"{route} (flood)"


@dataclass
class Pacer:
    """How many requests are due now to hold ``rate`` per second, without bursting after a
    stall: at most ``max_burst`` seconds of requests are ever owed."""

    rate: float
    started: float
    max_burst: float = 1.0
    sent: int = 0

    def due(self, now: float) -> int:
        owed = int((now - self.started) * self.rate + 1e-6) - self.sent  # 1e-6: float sums
        cap = max(1, int(self.rate * self.max_burst))
        if owed > cap:  # behind (a stall, or a full pool): forget what cannot be caught up
            self.sent += owed - cap
            owed = cap
        owed = max(0, owed)
        self.sent += owed
        return owed
