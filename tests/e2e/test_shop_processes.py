"""The five services as real processes, started by ``minishop up``, observed from outside."""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from minishop.manifest import MANIFEST
from tests.support.flags import chaos
from tests.support.helpers import wait_until
from tests.support.observed import value
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.processes import (
    SERVICES,
    STACK_PORT_VARIABLES,
    RunningShop,
    free_ports,
    shop_processes,
)
from tests.support.shop import PUBLIC_SERVICES

pytestmark = pytest.mark.e2e

SERVER_KIND = 2  # opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
INTERNAL_TOKEN = "e2e-internal-token-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver) -> Iterator[RunningShop]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_LOGS_EXPORTER": "otlp",  # as in the Compose stack: a copy of each line over OTLP
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "PAYMENTS_FAILURE_RATE": "0",
        "MINISHOP_INTERNAL_TOKEN": INTERNAL_TOKEN,  # the admin token is left to `up` to generate
    }
    with shop_processes(tmp_path_factory.mktemp("shop"), env) as running:
        yield running


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _order(shop: RunningShop, traceparent: str | None = None, user_id: int = 1) -> httpx.Response:
    headers = {"traceparent": traceparent} if traceparent else {}
    return httpx.post(
        f"{shop.urls['gateway']}/order",
        json={"user_id": user_id, "items": [{"product_id": 2, "quantity": 1}]},
        headers=headers,
        timeout=10,
    )


def test_an_order_is_one_trace_through_gateway_orders_and_products(
    shop: RunningShop, receiver: OtlpReceiver
) -> None:
    trace_id, parent_id, traceparent = _traceparent()
    response = _order(shop, traceparent)
    assert response.status_code == 201, response.text
    spans = receiver.wait_for(trace_id, {"CreateOrder", "DeductInventory", "POST /order"})
    names = {span.name for span in spans}
    assert {"CreateOrder", "DeductInventory", "POST /order"} <= names, names
    assert {span.service for span in spans} == {"gateway", "orders", "products", "users"}
    gateway = next(span for span in spans if span.name == "POST /order")
    assert gateway.parent_span_id == parent_id
    create = next(span for span in spans if span.name == "CreateOrder")
    assert create.service == "orders"
    assert create.attributes["order.id"] == response.json()["order_id"]
    assert create.attributes["order.total"] == response.json()["total"]
    deduct = next(span for span in spans if span.name == "DeductInventory")
    assert deduct.service == "products"
    assert deduct.attributes["product.id"] == 2
    servers = Counter(span.service for span in spans if span.kind == SERVER_KIND)
    # One server span per hop, never two: FastAPI's own telemetry stays off beside ours.
    assert servers == {"gateway": 1, "orders": 1, "users": 1, "products": 1}  # the deduction


def test_the_service_log_lines_of_a_request_carry_its_trace_id(
    shop: RunningShop, receiver: OtlpReceiver
) -> None:
    trace_id, _, traceparent = _traceparent()
    # A user orders hasn't seen yet: it asks users (a known user is remembered a while).
    registered = httpx.post(
        f"{shop.urls['gateway']}/api/v1/users",
        json={"email": f"{trace_id[:12]}@example.com", "name": "Log Reader"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    assert _order(shop, traceparent, registered.json()["id"]).status_code == 201

    def from_every_service() -> list[tuple[str, dict]]:
        lines = [(s, line) for s, line in shop.log_lines() if line.get("trace_id") == trace_id]
        return lines if {"gateway", "orders", "products", "users"} <= {s for s, _ in lines} else []

    lines = wait_until(
        from_every_service,
        timeout=10,
        interval=0.1,
        message="log lines of the trace from gateway, orders, products and users",
    )
    access = next(line for service, line in lines if service == "gateway")
    assert access["app"] == "minishop"
    assert access["service"] == "gateway"
    assert access["route"] == "/order"
    assert access["status"] == 201
    assert {
        "timestamp",
        "level",
        "message",
        "span_id",
        "method",
        "path",
        "duration_ms",
        "client",
    } <= set(access)


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_pass_promtool_and_carry_exemplars(shop: RunningShop, service: str) -> None:
    assert _order(shop).status_code == 201
    for collection in PUBLIC_SERVICES:  # traffic on every service
        httpx.get(f"{shop.urls['gateway']}/api/v1/{collection}", timeout=5).raise_for_status()
    url = f"{shop.urls[service]}/metrics"
    text = httpx.get(url, timeout=5).text
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is required: .ci/run installs it"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()

    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {"request", "error", "request_duration_seconds"} <= set(families)
    assert families["request"].type == "counter"
    assert families["request_duration_seconds"].type == "histogram"
    assert any(sample.labels.get("service") == service for sample in families["request"].samples)

    openmetrics = httpx.get(url, headers={"accept": OPENMETRICS}, timeout=5)
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
    exemplars = [
        line for line in openmetrics.text.splitlines()
        if line.startswith(("request_total", "request_duration_seconds_bucket")) and '# {trace_id="' in line
    ]  # fmt: skip
    assert exemplars, f"no exemplar on {service}"


def _error_total(shop: RunningShop, service: str) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{shop.urls[service]}/metrics", timeout=5).text
    return {
        (sample.labels["route"], sample.labels["reason"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "error"
        for sample in family.samples
    }


def test_a_forced_payment_failure_is_a_402_an_error_count_and_a_log_line(
    shop: RunningShop, receiver: OtlpReceiver
) -> None:
    chaos(shop, "set", "payment_failure", "100")
    try:
        order_id = _order(shop).json()["order_id"]
        before = _error_total(shop, "payments")
        gateway_before = _error_total(shop, "gateway")
        trace_id, _, traceparent = _traceparent()
        declined = httpx.post(
            f"{shop.urls['gateway']}/payment/pay",
            json={"order_id": order_id, "card_number": "4000 0000 0000 0002"},
            headers={"traceparent": traceparent},
            timeout=10,
        )
    finally:
        chaos(shop, "clear", "payment_failure")
    assert declined.status_code == 402, declined.text
    reason = declined.json()["reason"]
    assert declined.json()["status"] == "failed"

    after = _error_total(shop, "payments")
    key = ("/api/v1/payments", reason)
    assert after.get(key, 0) == before.get(key, 0) + 1
    gateway_key = ("/payment/pay", reason)  # the gateway counts it under the same reason
    assert (
        _error_total(shop, "gateway").get(gateway_key, 0) == gateway_before.get(gateway_key, 0) + 1
    )

    spans = receiver.wait_for(trace_id, {"ProcessPayment"})
    process = next(span for span in spans if span.name == "ProcessPayment")
    assert process.attributes["payment.result"] == "failed"
    assert process.status_code == 2  # STATUS_CODE_ERROR

    failed = wait_until(
        lambda: [
            line
            for service, line in shop.log_lines()
            if service == "payments"
            and "payment failed" in line.get("message", "")
            and line.get("trace_id") == trace_id
        ],
        timeout=10,
        interval=0.1,
        message="a 'payment failed' line from payments",
    )

    # The same line over OTLP, as the Collector hands it to Loki: body, trace, attributes.
    exported = wait_until(
        lambda: [
            record
            for record in receiver.log_records()
            if record.trace_id == trace_id and record.body.startswith("payment failed")
        ],
        timeout=10,
        interval=0.1,
        message="the 'payment failed' line exported over OTLP",
    )
    record = exported[0]
    assert record.resource["service.name"] == "payments"
    assert record.severity_text in {"INFO", "WARNING"}
    assert record.attributes["reason"] == reason
    assert record.attributes["app"] == "minishop"
    assert "4000 0000 0000 0002" not in str(record.attributes)
    assert failed[0]["reason"] == reason
    assert failed[0]["order_id"] == order_id
    assert failed[0]["card_last4"] == "0002"
    assert "4000 0000 0000 0002" not in shop.log_path.read_text()


def _raw(url: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """Send ``path`` byte for byte (HTTP clients would resolve its dot-segments first)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        payload = orjson.dumps(body) if body is not None else None
        connection.request(method, path, body=payload, headers={"content-type": "application/json"})
        answer = connection.getresponse()
        return answer.status, orjson.loads(answer.read() or b"{}")
    finally:
        connection.close()


def _admin_flags_requests(payments: str) -> float:
    """How many requests payments served on ``/admin/flags``, by its ``request_total``."""
    text = httpx.get(f"{payments}/metrics", timeout=5).text
    return value(text, "request_total", route="/admin/flags")


def test_traversals_through_the_real_gateway_reach_nothing(shop: RunningShop) -> None:
    gateway, payments = shop.urls["gateway"], shop.urls["payments"]
    order_id = _order(shop).json()["order_id"]
    before = _admin_flags_requests(payments)
    attempts = [
        ("GET", "/api/v1/payments/..%2f..%2f..%2fadmin%2fflags", None),
        ("GET", "/api/v1/payments/%2e%2e/%2e%2e/%2e%2e/admin/flags", None),
        ("GET", "/api/v1/payments/../../../admin/flags", None),
        ("POST", f"/api/v1/orders/..%2f..%2f..%2finternal%2forders%2f{order_id}%2fpayment-result",
         {"payment_id": "forged", "succeeded": True}),
        ("POST", "/api/v1/products/..%252f..%252f..%252finternal%252finventory%252fdeductions",
         {"reservation_id": "forged", "items": [{"product_id": 2, "quantity": 1}]}),
        ("GET", "/api/v1/orders/1%00", None),
        ("GET", "/api/v1/orders/%01", None),
    ]  # fmt: skip
    for method, path, body in attempts:
        status, problem = _raw(gateway, method, path, body)
        assert status == 400, (path, status, problem)
        assert problem["type"] == "invalid-path", (path, problem)
    assert _admin_flags_requests(payments) == before  # none of them reached payments
    order = httpx.get(f"{gateway}/api/v1/orders/{order_id}", timeout=5).json()
    assert order["status"] == "pending"


def test_service_ports_refuse_calls_without_the_tokens(shop: RunningShop) -> None:
    orders = shop.urls["orders"]
    for service in ("users", "products", "orders", "payments"):
        flags = f"{shop.urls[service]}/admin/flags"
        assert httpx.get(flags, timeout=5).status_code == 401, service
        wrong = {"Authorization": "Bearer not-it"}
        assert httpx.get(flags, headers=wrong, timeout=5).status_code == 403, service
        assert httpx.get(flags, headers=shop.admin_headers(), timeout=5).status_code == 200
    forged = {"payment_id": "forged", "succeeded": True}
    refused = httpx.post(f"{orders}/internal/orders/1/payment-result", json=forged, timeout=5)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    output = shop.log_path.read_text(errors="replace")
    assert f"MINISHOP_ADMIN_TOKEN={shop.admin_token} " in output  # the banner's profile line
    assert "generated for this run" in output
    assert INTERNAL_TOKEN not in output  # never printed, never logged
    assert "is not set" not in output  # every service got both tokens


def test_status_reports_every_service_ready(shop: RunningShop) -> None:
    env = {
        **os.environ,
        **shop.port_env(),
        **dict(
            zip(
                STACK_PORT_VARIABLES.values(),
                map(str, free_ports(len(STACK_PORT_VARIABLES))),
                strict=True,
            )
        ),
    }
    result = subprocess.run(
        [sys.executable, "-m", "minishop", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" ready") == 5
    # Started with --no-stack: the optional parts (console, Slack receiver, Prometheus,
    # Alertmanager) are not running, and that is not a failure.
    assert result.stdout.count("not running") == len(MANIFEST.tools) + 2


def test_stop_is_graceful_and_flushes(tmp_path: Path, receiver: OtlpReceiver) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "60000"}
    with shop_processes(tmp_path, env) as running:
        trace_id, _, traceparent = _traceparent()
        assert _order(running, traceparent).status_code == 201
        assert receiver.trace(trace_id) == []  # held back by the long export delay
    assert running.process.returncode == 0
    spans: list[ReceivedSpan] = receiver.trace(trace_id)
    assert "CreateOrder" in {span.name for span in spans}  # flushed on the way down
    log = running.log_path.read_text()
    assert "MiniShop stopped." in log
    assert "Traceback" not in log


def test_a_refused_request_is_logged_with_its_reason(shop: RunningShop) -> None:
    trace_id, _, traceparent = _traceparent()
    refused = httpx.post(
        f"{shop.urls['gateway']}/order",
        json={"user_id": 1, "items": [{"product_id": 424242, "quantity": 1}]},
        headers={"traceparent": traceparent},
        timeout=10,
    )
    assert refused.status_code == 422
    lines = wait_until(
        lambda: [
            line
            for service, line in shop.log_lines()
            if service == "orders" and line.get("trace_id") == trace_id and "status" in line
        ],
        timeout=10,
        interval=0.1,
        message="the access line of the refused order",
    )
    assert lines[0]["status"] == 422
    assert lines[0]["problem_type"] == "unknown-product"
    assert "424242" in lines[0]["detail"]


def test_a_request_in_flight_when_the_shop_stops_still_completes(tmp_path: Path) -> None:
    env = {
        "PAYMENTS_FAILURE_RATE": "0",
        "PAYMENTS_LATENCY_MIN_MS": "1500",
        "PAYMENTS_LATENCY_MAX_MS": "1500",
    }
    with shop_processes(tmp_path, env) as running:
        order_id = _order(running).json()["order_id"]
        outcome: dict[str, object] = {}

        def pay() -> None:
            try:
                outcome["response"] = httpx.post(
                    f"{running.urls['gateway']}/payment/pay",
                    json={"order_id": order_id},
                    timeout=20,
                )
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        payer = threading.Thread(target=pay)
        payer.start()
        time.sleep(0.5)  # the charge is now under way inside payments
        running.process.send_signal(signal.SIGTERM)
        payer.join(timeout=30)
        running.process.wait(timeout=30)
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200, response.text
    assert running.process.returncode == 0


def _running(pid: str) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return False


def test_services_stop_by_themselves_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    with shop_processes(tmp_path) as running:
        children = subprocess.run(
            ["pgrep", "-P", str(running.process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) == 5
        running.process.kill()  # no chance to stop its children
        running.process.wait()
        wait_until(
            lambda: not any(_running(pid) for pid in children),
            timeout=20,
            interval=0.2,
            message=lambda: (
                "the services stopping without their supervisor"
                f" (still running: {[pid for pid in children if _running(pid)]})"
            ),
        )
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{running.urls['gateway']}/health/live", timeout=2)
