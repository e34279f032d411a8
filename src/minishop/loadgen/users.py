"""The simulated shopper: weighted journeys with think time, through the gateway only.

Browsing is the most common step, registering less, ordering and paying less still (a
declined payment is tried again), and now and then a careless request that the shop must
refuse with a 4xx. Every request carries the session's W3C baggage
(``synthetic_request=true,session.id=...``), so each span the shop records for it says it
was load, and ``synthetic_requests_total`` counts it apart from people's traffic.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from minishop.loadgen.journeys import (
    BAD_REQUESTS,
    Catalog,
    baggage_header,
    failure_of,
    new_session_id,
    new_user,
    seed_products,
)

OK = frozenset({200})
CREATED = frozenset({201})
ORDER_ANSWERS = frozenset({201, 409})  # 409: not enough stock, a business answer
PAY_ANSWERS = frozenset({200, 402, 409})  # 402 declined; 409 already paid (a retry raced)
PAY_ATTEMPTS = 3
CARD = "4242 4242 4242 4242"


class Shopper(FastHttpUser):
    """One person using the shop, as a Locust user (``host`` is the gateway)."""

    wait_time = between(1.0, 3.0)
    network_timeout = 30.0
    connection_timeout = 5.0
    think: ClassVar[tuple[float, float]] = (1.0, 3.0)  # also the pause before paying again
    catalog: ClassVar[Catalog] = Catalog()  # one per process, shared by every user
    api_key: ClassVar[str | None] = None
    _seeding: ClassVar[bool] = False

    @classmethod
    def configure(cls, think_min: float, think_max: float, api_key: str | None) -> None:
        """Set the think time and API key for every user of this process."""
        cls.wait_time = between(think_min, think_max)
        cls.think = (think_min, think_max)
        cls.api_key = api_key

    def on_start(self) -> None:
        self.rng = random.Random()
        self.session_id = new_session_id(self.rng)
        self.headers = {"baggage": baggage_header(self.session_id)}
        if self.api_key:
            self.headers["X-API-Key"] = self.api_key
        self.registered = 0
        self.user_id: int | None = None
        self.register()
        if self.list_products(first_page=True) == 0:
            self.stock_the_shop()

    # -- one request -------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        name: str,
        expected: frozenset[int],
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; count it as a failure only when its answer is not ``expected``.

        Returns the status (0 when nothing came back) and the JSON body (None if none).
        """
        with self.client.request(
            method,
            path,
            name=name,
            json=body,
            headers={**self.headers, **(headers or {})},
            catch_response=True,
        ) as response:
            status = response.status_code or 0
            failure = failure_of(status, expected)
            if failure is None:
                response.success()
            else:
                response.failure(failure)
            try:
                document = response.json() if status else None
            except ValueError:
                document = None
            return status, document

    def pause(self) -> None:
        """A person's pause inside a journey (before paying again, say)."""
        time.sleep(self.rng.uniform(*self.think))

    # -- the journeys ------------------------------------------------------------------

    @task(10)
    def browse(self) -> None:
        """Look through the catalog, then at one or two products."""
        self.list_products()
        for _ in range(self.rng.randint(1, 2)):
            product_id = self.catalog.random_id(self.rng)
            if product_id is None:
                return
            status, product = self.call(
                "GET", f"/api/v1/products/{product_id}", "/api/v1/products/{product_id}", OK
            )
            if status == 200 and isinstance(product, dict):
                self.catalog.learn([product])

    @task(2)
    def register(self) -> None:
        """Sign up (the first one also gives this session the user it orders as)."""
        self.registered += 1
        status, user = self.call(
            "POST", "/api/v1/users", "/api/v1/users", CREATED,
            new_user(self.session_id, self.registered),
        )  # fmt: skip
        if status == 201 and isinstance(user, dict) and self.user_id is None:
            self.user_id = user.get("id")

    @task(3)
    def order_and_pay(self) -> None:
        """Order one or two units, pay, pay again if declined, then look at the order."""
        lines = self.catalog.order_lines(self.rng)
        if lines is None:  # every product is near the floor: wait for the supplier
            self.list_products()
            return
        body = {"user_id": self.user_id or 1, "items": lines}
        status, order = self.call("POST", "/order", "/order", ORDER_ANSWERS, body)
        if status == 409:
            for line in lines:
                self.catalog.forget_stock(line["product_id"])
            return
        if status != 201 or not isinstance(order, dict):
            return
        order_id = order["order_id"]
        for attempt in range(PAY_ATTEMPTS):
            payment = {"order_id": order_id}
            if self.rng.random() < 0.5:
                payment["card_number"] = CARD
            status, _ = self.call(
                "POST", "/payment/pay", "/payment/pay", PAY_ANSWERS, payment,
                {"Idempotency-Key": f"{self.session_id}-{order_id}-{attempt}"},
            )  # fmt: skip
            if status != 402:
                break
            self.pause()  # declined: the shopper tries again a moment later
        self.call("GET", f"/api/v1/orders/{order_id}", "/api/v1/orders/{order_id}", OK)

    @task(1)
    def careless_request(self) -> None:
        """A request the shop must refuse with a clear 4xx, never a 5xx."""
        bad = self.rng.choice(BAD_REQUESTS)
        self.call(bad.method, bad.path, bad.name, bad.expected, bad.body)

    # -- helpers -------------------------------------------------------------------------

    def list_products(self, *, first_page: bool = False) -> int | None:
        """One page of the catalog (now and then a later one); how many products it held,
        or None when the shop did not answer with a list."""
        offset = 0 if first_page or self.rng.random() < 0.8 else self.rng.randint(1, 20)
        status, page = self.call(
            "GET", f"/api/v1/products?limit=50&offset={offset}", "/api/v1/products", OK
        )
        if status != 200 or not isinstance(page, dict):
            return None
        items = page.get("items", [])
        self.catalog.learn(items)
        return len(items)

    def stock_the_shop(self) -> None:
        """An empty catalog (a fresh database without the seed): create a few products, once
        per process, through the public API."""
        if Shopper._seeding or not self.catalog.empty:
            return
        Shopper._seeding = True
        for product in seed_products(self.session_id):
            status, created = self.call(
                "POST", "/api/v1/products", "/api/v1/products", CREATED, product
            )
            if status == 201 and isinstance(created, dict):
                self.catalog.learn([created])
