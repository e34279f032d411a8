"""Stopping the shop takes at most 5 s, whatever the telemetry backend does.

The shop runs as ``minishop up`` starts it, exporting spans and log records over
OTLP to an endpoint that is either black-holed (a TCP server that accepts and
never answers: the worst case, each export waits for its full timeout) or
refusing connections (the exporter retries with backoff). After a few orders the
export workers are busy or stuck; Ctrl-C must still stop every process in 5 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.processes import SERVICES, RunningShop, shop_processes

pytestmark = pytest.mark.e2e

STOP_BUDGET_SECONDS = 5.0


@contextmanager
def black_hole() -> Iterator[str]:
    """An OTLP endpoint that accepts every connection and never sends a byte back."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)  # kept open, never read, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=2)


@contextmanager
def refusing() -> Iterator[str]:
    """An OTLP endpoint on a port nobody listens on: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


ENDPOINTS = {"black-holed": black_hole, "refusing": refusing}


def _children(pid: int) -> list[int]:
    """The supervisor's child processes (Linux: /proc/<pid>/task/<pid>/children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _order(shop: RunningShop) -> None:
    response = httpx.post(
        f"{shop.urls['gateway']}/order",
        json={"user_id": 1, "items": [{"product_id": 2, "quantity": 1}]},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def _slow_payments(shop: RunningShop, count: int) -> list[threading.Thread]:
    """Payments still running when the shop is told to stop (their answers do not matter)."""

    def pay() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{shop.urls['gateway']}/payment/pay", json={"order_id": 1}, timeout=20)

    payers = [threading.Thread(target=pay, daemon=True) for _ in range(count)]
    for payer in payers:
        payer.start()
    return payers


@pytest.mark.parametrize(
    ("endpoint", "slow_requests"),
    [("black-holed", False), ("refusing", False), ("black-holed", True)],
)
def test_the_shop_stops_within_5_s_whatever_the_otlp_endpoint_does(
    tmp_path: Path, endpoint: str, slow_requests: bool
) -> None:
    """Also with requests in flight that would outlast the budget: they are cut, not waited for."""
    with ENDPOINTS[endpoint]() as url:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": url,
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            "PAYMENTS_FAILURE_RATE": "0",
        }
        if slow_requests:
            env |= {"PAYMENTS_LATENCY_MIN_MS": "8000", "PAYMENTS_LATENCY_MAX_MS": "9000"}
        with shop_processes(tmp_path, env) as shop:
            children = _children(shop.process.pid)
            assert len(children) == 5, children
            for _ in range(5):
                _order(shop)
            time.sleep(0.5)  # the export workers are now inside an export (or its backoff)
            for _ in range(5):
                _order(shop)  # and more spans and log records are queued behind it
            if slow_requests:
                _slow_payments(shop, 4)
                time.sleep(0.5)  # the charges are under way inside payments

            started = time.monotonic()
            shop.process.send_signal(signal.SIGINT)
            deadline = started + STOP_BUDGET_SECONDS
            while time.monotonic() < deadline and (
                shop.process.poll() is None or any(_alive(pid) for pid in children)
            ):
                time.sleep(0.05)
            stopped_after = time.monotonic() - started
            still_running = [pid for pid in children if _alive(pid)]
            supervisor_code = shop.process.poll()
    print(f"stopped in {stopped_after:.2f} s ({endpoint} endpoint, slow requests: {slow_requests})")
    # Outside the shop's context: it would SIGTERM and wait on a failure above.
    assert not still_running, f"still running {stopped_after:.1f} s after Ctrl-C: {still_running}"
    assert supervisor_code == 0, f"minishop up still running after {stopped_after:.1f} s"
    assert "MiniShop stopped." in shop.log_path.read_text(errors="replace")
    stopping = {
        service for service, line in shop.log_lines() if line["message"] == "service stopping"
    }
    assert stopping == set(SERVICES)  # each stopped itself
