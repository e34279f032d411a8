"""A soak run: the load generator for minutes against the real processes, with the supplier
and the expiry of unpaid orders running fast, leaves every product in stock and no order
half made (``reserving``). Longer by hand: ``MINISHOP_SOAK_SECONDS=1800 ./dev test -m soak``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import wait_until
from tests.support.observed import value
from tests.support.processes import shop_processes

pytestmark = [pytest.mark.e2e, pytest.mark.soak]

SOAK_SECONDS = int(os.environ.get("MINISHOP_SOAK_SECONDS", "60"))
PAYMENT_TIMEOUT_SECONDS = 8
SOAK_SHOP = {
    # the supplier works hard: every product under 450 units is topped up to 600
    "PRODUCTS_RESTOCK_INTERVAL_SECONDS": "2",
    "PRODUCTS_RESTOCK_THRESHOLD": "450",
    "PRODUCTS_RESTOCK_TARGET": "600",
    # a third of payments fail: orders left unpaid expire within seconds and give stock back
    "PAYMENTS_FAILURE_RATE": "0.35",
    "PAYMENTS_LATENCY_MIN_MS": "1",
    "PAYMENTS_LATENCY_MAX_MS": "5",
    "ORDERS_PAYMENT_TIMEOUT_SECONDS": str(PAYMENT_TIMEOUT_SECONDS),
    "ORDERS_EXPIRY_INTERVAL_SECONDS": "2",
}


def _counter(url: str, name: str) -> float:
    return value(httpx.get(f"{url}/metrics", timeout=5).text, name)


def _statuses(orders_db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{orders_db}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT status, count(*) FROM orders GROUP BY status")
        return dict(rows.fetchall())


def test_a_soak_run_leaves_stock_and_no_order_half_made(tmp_path: Path) -> None:
    with shop_processes(tmp_path, SOAK_SHOP) as shop:
        gateway = shop.urls["gateway"]
        run = subprocess.run(
            [
                sys.executable, "-m", "minishop", "load",
                "--host", gateway, "--users", "20", "--spawn-rate", "10",
                "--duration", f"{SOAK_SECONDS}s", "--think-min", "0.05", "--think-max", "0.3",
                "--progress-interval", "15",
            ],
            env={**os.environ, **shop.port_env()},
            capture_output=True, text=True, timeout=SOAK_SECONDS + 120,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        products = httpx.get(f"{gateway}/api/v1/products", params={"limit": 100}, timeout=5)
        stock = {item["id"]: item["stock"] for item in products.json()["items"]}
        assert stock
        assert min(stock.values()) > 0, stock
        orders_db = tmp_path / "data" / "orders.db"

        def settled() -> dict[str, int] | None:
            statuses = _statuses(orders_db)
            return statuses if not statuses.get("reserving") else None

        # An order is `reserving` only while it is being placed: once the load stops,
        # none may stay so (a crash or a lost reply would leave one behind).
        statuses = wait_until(settled, timeout=30, interval=0.5, message="no order reserving")
        assert statuses.get("paid", 0) > 0, statuses
        restocks = _counter(shop.urls["products"], "restocks_total")
        expired = _counter(shop.urls["orders"], "orders_expired_total")
    assert restocks > 0, "the supplier never restocked during the soak"
    assert expired > 0, f"no unpaid order expired: {statuses}"
