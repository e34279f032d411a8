"""``minishop load`` against the real processes: traffic on the expected routes, no 5xx,
the synthetic baggage on the spans of every service, and the traffic_flood flag.

One shop serves every test of the module (starting it is most of the time they take); it
exports its spans to a test OTLP receiver and watches a flag file of the test's own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from minishop.flags import flag_spec
from minishop.flags.document import read_document, switched_off, switched_on, write_document
from tests.support.helpers import wait_until
from tests.support.observed import value
from tests.support.otlp import OtlpReceiver
from tests.support.processes import RunningShop, shop_processes

pytestmark = pytest.mark.e2e

JOURNEY_ROUTES = {
    ("GET", "/api/v1/products"),
    ("GET", "/api/v1/products/{product_id}"),
    ("POST", "/api/v1/users"),
    ("POST", "/order"),
    ("POST", "/payment/pay"),
    ("GET", "/api/v1/orders/{order_id}"),
}
FLOOD_ROUTE = "/api/v1/payments"  # no journey lists payments: all its traffic is the flood
FAST = ["--think-min", "0.05", "--think-max", "0.2"]


@dataclass
class Lab:
    shop: RunningShop
    receiver: OtlpReceiver
    flags: Path
    tmp: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.shop.port_env(), "MINISHOP_FLAGS_FILE": str(self.flags)}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "minishop", "load", "--flags-file", str(self.flags), *args]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("load")
    flags = tmp / "flags.json"
    with OtlpReceiver() as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "MINISHOP_FLAGS_FILE": str(flags),
            "PAYMENTS_LATENCY_MIN_MS": "1",
            "PAYMENTS_LATENCY_MAX_MS": "5",
        }
        with shop_processes(tmp, env) as shop:
            yield Lab(shop, receiver, flags, tmp)


@dataclass(frozen=True)
class Row:
    requests: int
    failures: int
    statuses: dict[int, int]


def summary_rows(output: str) -> dict[tuple[str, str], Row]:
    """The summary table's rows, by (method, route); the total as ("", "total")."""
    lines = output.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith("method ")]
    rows = {}
    for line in lines[start + 1 :]:
        match = re.match(
            r"^(\S*)\s+(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*((?:\S+:\d+ ?)*)$", line
        )
        if match is None:
            break
        method, route, requests, failures, _p50, _p95, statuses = match.groups()
        counts = {}
        for part in statuses.split():
            status, count = part.split(":")
            counts[0 if status == "error" else int(status)] = int(count)
        rows[(method, route)] = Row(int(requests), int(failures), counts)
    return rows


def test_a_headless_run_reports_traffic_on_every_journey_route_without_5xx(lab: Lab) -> None:
    done = subprocess.run(
        lab.command("--users", "4", "--spawn-rate", "4", "--duration", "8s",
                    "--progress-interval", "2", *FAST),
        env=lab.env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output  # 1 would mean a failed request
    progress = [
        line for line in output.splitlines() if line.startswith("[load]") and " s  users" in line
    ]
    assert progress and all(
        "requests" in line and "failures" in line and "req/s" in line for line in progress
    )
    rows = summary_rows(output)
    assert {key for key, row in rows.items() if row.requests > 0} >= JOURNEY_ROUTES, output
    total = rows[("", "total")]
    assert total.failures == 0 and total.requests >= 50, output
    assert not [status for status in total.statuses if status >= 500 or status == 0], output
    assert rows[("POST", "/order")].statuses.get(201, 0) > 0
    assert rows[("POST", "/payment/pay")].statuses.get(200, 0) > 0


def test_the_synthetic_baggage_reaches_the_spans_of_every_service(lab: Lab) -> None:
    subprocess.run(
        lab.command("--users", "2", "--spawn-rate", "2", "--duration", "4s", *FAST),
        env=lab.env(), capture_output=True, timeout=120, check=True,
    )  # fmt: skip

    def marked() -> dict[str, set[str]]:
        sessions: dict[str, set[str]] = {}
        for span in lab.receiver.spans:
            if span.attributes.get("synthetic_request") == "true":
                sessions.setdefault(span.service, set()).add(str(span.attributes.get("session.id")))
        return (
            sessions
            if {"gateway", "orders", "products", "payments", "users"} <= set(sessions)
            else {}
        )

    sessions = wait_until(
        marked, timeout=30, interval=0.5, message="synthetic spans of every service"
    )
    for service, ids in sessions.items():
        assert all(re.fullmatch(r"(flood-)?[0-9a-f]{8,16}", value) for value in ids), (service, ids)
    business = {
        span.name
        for span in lab.receiver.spans
        if span.attributes.get("synthetic_request") == "true"
    }
    assert {"CreateOrder", "DeductInventory", "ProcessPayment"} <= business


def _flood_requests(lab: Lab) -> float:
    """Requests payments served on the flood's route so far (request_total, any status)."""
    text = httpx.get(f"{lab.shop.urls['payments']}/metrics", timeout=5).text
    return value(text, "request_total", route=FLOOD_ROUTE, method="GET")


def _growth(lab: Lab, seconds: float) -> float:
    before = _flood_requests(lab)
    time.sleep(seconds)
    return _flood_requests(lab) - before


def _set_flood(lab: Lab, rps: str | None) -> None:
    spec = flag_spec("traffic_flood")
    document = read_document(lab.flags)
    changed = (
        switched_off(document, spec)
        if rps is None
        else switched_on(document, spec, spec.parse([FLOOD_ROUTE, rps]))
    )
    write_document(lab.flags, changed)


def test_traffic_flood_raises_its_route_s_rate_while_on_and_ctrl_c_ends_with_a_summary(
    lab: Lab,
) -> None:
    log = lab.tmp / "flood.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            lab.command("--users", "1", "--spawn-rate", "1", "--duration", "0",
                        "--think-min", "1", "--think-max", "2", "--progress-interval", "1"),
            env=lab.env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: "users against" in log.read_text(), timeout=30, interval=0.2,
                   message=lambda: f"the generator started:\n{log.read_text()}")  # fmt: skip
        assert _growth(lab, 2.0) == 0  # before the flood, nothing asks for that route
        _set_flood(lab, "40")
        wait_until(lambda: _growth(lab, 2.0) >= 40, timeout=30, interval=0,  # half the rate or more
                   message=lambda: f"the flood's requests on {FLOOD_ROUTE}:\n{log.read_text()[-2000:]}")  # fmt: skip
        _set_flood(lab, None)
        wait_until(lambda: _growth(lab, 2.0) == 0, timeout=30, interval=0,
                   message="the flood stopped")  # fmt: skip
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: the command relays it to the generator
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    output = log.read_text()
    assert "traffic_flood on: 40 req/s to GET /api/v1/payments" in output
    assert "traffic_flood off" in output
    flood = summary_rows(output)[("GET", f"{FLOOD_ROUTE} (flood)")]
    assert flood.requests >= 40 and set(flood.statuses) == {200}, output
