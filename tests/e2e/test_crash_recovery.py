"""One crash is not an outage: a killed service comes back while the others keep serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from minishop.cli.supervisor_state import ChildStatus, state_file, write_state
from tests.support.helpers import wait_until
from tests.support.processes import SHOP_PORT_VARIABLES, RunningShop, free_ports, shop_processes

pytestmark = pytest.mark.e2e


def _child_pid(shop: RunningShop, service: str) -> int:
    """The pid of ``minishop serve <service>`` under this shop's supervisor."""
    children = subprocess.run(
        ["pgrep", "-P", str(shop.process.pid)], capture_output=True, text=True
    ).stdout.split()
    for pid in children:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if argv[-3:-1] == [b"serve", service.encode()]:
            return int(pid)
    raise AssertionError(f"no {service} process under the supervisor: {children}")


def _wait_until_live(url: str, timeout: float) -> float:
    """Seconds until ``url`` answers its liveness probe; fails after ``timeout``."""
    started = time.monotonic()
    wait_until(
        lambda: httpx.get(f"{url}/health/ready", timeout=0.5).status_code == 200,
        timeout=timeout,
        interval=0.05,
        ignoring=(httpx.HTTPError,),
        message=f"{url} serving again",
    )
    return time.monotonic() - started


class _Traffic:
    """A light loop of requests through the gateway that need neither orders nor payments."""

    def __init__(self, gateway: str) -> None:
        self._gateway = gateway
        self._stop = threading.Event()
        self.outcomes: list[int | str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self._gateway, timeout=5) as client:
            while not self._stop.is_set():
                for path in ("/api/v1/products", "/api/v1/users/1"):
                    try:
                        self.outcomes.append(client.get(path).status_code)
                    except httpx.HTTPError as exc:
                        self.outcomes.append(type(exc).__name__)
                time.sleep(0.02)

    def __enter__(self) -> _Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _status(shop: RunningShop, tmp_path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "minishop", "status", "--data-dir", str(tmp_path / "data")],
        env={**os.environ, **shop.port_env()},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout


def test_a_killed_service_serves_again_while_the_others_keep_answering(tmp_path: Path) -> None:
    with shop_processes(tmp_path) as shop, _Traffic(shop.urls["gateway"]) as traffic:
        time.sleep(0.5)
        os.kill(_child_pid(shop, "payments"), signal.SIGKILL)
        back_after = _wait_until_live(shop.urls["payments"], timeout=5.0)
        print(f"payments ready again {back_after:.2f} s after SIGKILL")  # shown with -s
        time.sleep(0.5)
        live = httpx.get(f"{shop.urls['payments']}/health/live", timeout=5).json()
        metrics = httpx.get(f"{shop.urls['payments']}/metrics", timeout=5).text
        status = _status(shop, tmp_path)
        assert shop.process.poll() is None  # the supervisor itself kept running
    assert len(traffic.outcomes) > 20
    assert set(traffic.outcomes) == {200}, traffic.outcomes
    assert live["restarts"] == 1
    assert live["service"] == "payments"
    assert {"status", "version", "uptime_seconds"} <= live.keys()
    assert 'service_restarts_total{service="payments"} 1.0' in metrics
    (payments_line,) = [line for line in status.splitlines() if line.startswith("payments ")]
    assert " ready " in payments_line and "restarts 1 " in payments_line, status
    (orders_line,) = [line for line in status.splitlines() if line.startswith("orders ")]
    assert "restarts 0 " in orders_line, status
    log = shop.log_path.read_text()
    assert "payments stopped unexpectedly (killed by SIGKILL); restarting it now" in log


def test_an_interrupted_charge_does_not_block_the_order_for_long(tmp_path: Path) -> None:
    env = {
        "PAYMENTS_FAILURE_RATE": "0",
        "PAYMENTS_LATENCY_MIN_MS": "1500",
        "PAYMENTS_LATENCY_MAX_MS": "1500",
    }
    with shop_processes(tmp_path, env) as shop:
        gateway = shop.urls["gateway"]
        order = httpx.post(
            f"{gateway}/order",
            json={"user_id": 1, "items": [{"product_id": 2, "quantity": 1}]},
            timeout=10,
        )
        assert order.status_code == 201, order.text
        order_id = order.json()["order_id"]
        pay = {"json": {"order_id": order_id}, "headers": {"Idempotency-Key": f"pay-{order_id}"}}
        interrupted: dict[str, object] = {}

        def first_attempt() -> None:
            try:
                interrupted["status"] = httpx.post(
                    f"{gateway}/payment/pay", timeout=20, **pay
                ).status_code
            except httpx.HTTPError as exc:
                interrupted["status"] = type(exc).__name__

        payer = threading.Thread(target=first_attempt)
        payer.start()
        time.sleep(0.7)  # the charge is under way inside payments
        os.kill(_child_pid(shop, "payments"), signal.SIGKILL)
        killed_at = time.monotonic()
        payer.join(timeout=20)
        assert interrupted["status"] != 200, interrupted

        # The client retries the same request (same key) until it goes through.
        wait_until(
            lambda: httpx.post(f"{gateway}/payment/pay", timeout=20, **pay).status_code == 200,
            timeout=15 - (time.monotonic() - killed_at),  # 15 s from the kill
            interval=0.5,
            ignoring=(httpx.HTTPError,),
            message="the order paid again after payments was killed mid-charge",
        )
        paid = time.monotonic() - killed_at
        assert paid < 15, "the order could not be paid within 15 s"
        print(f"order paid {paid:.2f} s after payments was killed mid-charge")  # shown with -s
        payments = httpx.get(
            f"{gateway}/api/v1/payments", params={"order_id": order_id}, timeout=10
        ).json()
        order_now = httpx.get(f"{gateway}/api/v1/orders/{order_id}", timeout=10).json()
    rows = payments["items"]
    outcomes = sorted((row["status"], row["reason"]) for row in rows)
    assert outcomes == [("failed", "interrupted"), ("succeeded", None)], rows
    assert order_now["status"] == "paid"


def test_status_marks_a_service_the_supervisor_gave_up_on(tmp_path: Path) -> None:
    write_state(
        state_file(tmp_path),
        {
            "payments": ChildStatus("gave up", None, 4, "crashed 5 times within 60 s"),
            "orders": ChildStatus("running", 1, 0),
        },
    )  # as a live supervisor (this test's process) leaves it
    variables = list(SHOP_PORT_VARIABLES.values())
    ports = dict(zip(variables, free_ports(len(variables)), strict=True))
    result = subprocess.run(
        [sys.executable, "-m", "minishop", "status", "--data-dir", str(tmp_path)],
        env={**os.environ, **{variable: str(port) for variable, port in ports.items()}},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("payments ")]
    assert "GAVE UP" in line
    assert "not restarted: crashed 5 times within 60 s" in line
    (orders,) = [line for line in result.stdout.splitlines() if line.startswith("orders ")]
    assert "DOWN" in orders
