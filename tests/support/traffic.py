"""A lab that alerts quickly, and traffic to make it: what the alerting and console e2e tests share."""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time

import httpx

from tests.support.processes import RunningShop

FAST_STACK = {
    "MINISHOP_SCRAPE_INTERVAL": "1s",
    "MINISHOP_EVALUATION_INTERVAL": "1s",
    "MINISHOP_ALERT_GROUP_WAIT": "1s",
    "MINISHOP_ALERT_GROUP_INTERVAL": "2s",
    "PAYMENTS_FAILURE_RATE": "0",
    "PAYMENTS_LATENCY_MIN_MS": "1",
    "PAYMENTS_LATENCY_MAX_MS": "5",
}
ALERT_DEADLINE = 240.0  # seconds: rate window (1m) + `for` (1m) + scrape, evaluation, grouping


class Traffic:
    """Orders, payments, registrations and refused orders through the gateway, until stopped."""

    def __init__(self, shop: RunningShop) -> None:
        self._gateway = shop.urls["gateway"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self.sent = 0

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(base_url=self._gateway, timeout=10) as client:
            for step in itertools.count():
                if self._stop.is_set():
                    return
                # The shop's answers are observed through its telemetry, not asserted here.
                with contextlib.suppress(httpx.HTTPError):
                    self._one_round(client, step)
                time.sleep(0.05)

    def _one_round(self, client: httpx.Client, step: int) -> None:
        product = random.choice((3, 8))  # the products with the deepest stock
        order = client.post(
            "/order", json={"user_id": 1, "items": [{"product_id": product, "quantity": 1}]}
        )
        if order.status_code == 201:
            client.post("/payment/pay", json={"order_id": order.json()["order_id"]})
        if step % 10 == 0:
            client.post(
                "/api/v1/users", json={"email": f"load{step}@example.com", "name": f"Load {step}"}
            )
            client.post(
                "/order", json={"user_id": 1, "items": [{"product_id": 1, "quantity": 10_000}]}
            )
        if step % 5 == 0:
            client.get("/api/v1/products")
            client.get(f"/api/v1/orders/{max(1, step)}")
        self.sent += 1
