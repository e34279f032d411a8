"""``minishop`` refuses to start with a one-line reason, never a traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import wait_until
from tests.support.processes import SHOP_PORT_VARIABLES, STACK_PORT_VARIABLES, free_ports

pytestmark = pytest.mark.e2e


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    variables = [*SHOP_PORT_VARIABLES.values(), *STACK_PORT_VARIABLES.values()]
    ports = dict(zip(variables, free_ports(len(variables)), strict=True))
    full_env = {**os.environ, **{name: str(port) for name, port in ports.items()}, **env}
    return subprocess.run(
        [sys.executable, "-m", "minishop", *args, "--data-dir", str(tmp_path)],
        env=full_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "name"),
    [("GATEWAY_PORT", "gateway"), ("MINISHOP_PROMETHEUS_PORT", "prometheus")],
)
def test_a_taken_port_is_a_one_line_error(tmp_path: Path, variable: str, name: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _run(["up"], {variable: str(port)}, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert f"port {port} ({name}) is already in use" in line
    assert variable in line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PAYMENTS_FAILURE_RATE", "2", "PAYMENTS_FAILURE_RATE"),
        ("ORDERS_LOG_LEVEL", "chatty", "ORDERS_LOG_LEVEL"),
        ("USERS_DATABASE_URL", "mysql://nope", "USERS_DATABASE_URL"),
        ("MINISHOP_SCRAPE_INTERVAL", "soon", "MINISHOP_SCRAPE_INTERVAL"),
        ("MINISHOP_SLACK_WEBHOOK_URL", "slack", "MINISHOP_SLACK_WEBHOOK_URL"),
        ("SLACK_RECEIVER_KEEP_MESSAGES", "0", "SLACK_RECEIVER_KEEP_MESSAGES"),
    ],
)
def test_a_bad_setting_is_a_one_line_error(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = _run(["up"], {variable: value}, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert expected in line


def test_a_service_that_fails_to_start_is_named(tmp_path: Path) -> None:
    result = _run(
        ["up", "--ready-timeout", "30"],
        {"ORDERS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"},
        tmp_path,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "orders" in last
    assert "Traceback" not in result.stderr


def test_serve_alone_without_tokens_keeps_internal_routes_closed_and_says_why(
    tmp_path: Path,
) -> None:
    (port,) = free_ports(1)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MINISHOP_")} | {
        "PRODUCTS_PORT": str(port),
        "PRODUCTS_DATA_DIR": str(tmp_path),
    }
    log_path = tmp_path / "products.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "minishop", "serve", "products"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"

        def live() -> bool:
            with contextlib.suppress(httpx.HTTPError):  # not listening yet
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    return True
            assert process.poll() is None, log_path.read_text()
            return False

        wait_until(
            live,
            timeout=30,
            interval=0.1,
            message=lambda: f"products serving:\n{log_path.read_text()}",
        )
        body = {"reservation_id": "r-1", "items": [{"product_id": 1, "quantity": 1}]}
        refused = httpx.post(
            f"{url}/internal/inventory/deductions",
            json=body,
            headers={"X-Internal-Token": "anything"},
            timeout=5,
        )
        assert refused.status_code == 403
        assert "MINISHOP_INTERNAL_TOKEN is not set" in refused.json()["detail"]
        assert httpx.get(f"{url}/api/v1/products/1", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    warnings = [
        line for line in log_path.read_text().splitlines()
        if '"level":"warning"' in line and "MINISHOP_INTERNAL_TOKEN is not set" in line
    ]  # fmt: skip
    assert len(warnings) == 1, log_path.read_text()
