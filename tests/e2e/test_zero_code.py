"""Zero-code mode: a service started the way ``minishop up`` starts it under
``opentelemetry-instrument`` is traced by the contrib instrumentors alone.

If MiniShop's own middleware, client or database spans were still made, every span would be
doubled and the comparison in bench/order_path.py would measure both at once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from minishop.cli.supervisor import ProcessSpec
from minishop.cli.zero_code import AgentMissing, agent_env, agent_path
from minishop.manifest import MANIFEST
from minishop.observability.mode import TELEMETRY_VARIABLE
from tests.support.helpers import wait_until
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.processes import free_ports

pytestmark = pytest.mark.e2e

CONTRIB_SERVER_SCOPES = {
    "opentelemetry.instrumentation.fastapi",
    "opentelemetry.instrumentation.asgi",
}
CONTRIB_DATABASE_SCOPES = {
    "opentelemetry.instrumentation.sqlalchemy",
    "opentelemetry.instrumentation.sqlite3",
    "opentelemetry.instrumentation.asyncpg",
}


@pytest.fixture
def agent() -> str:
    try:
        return agent_path()
    except AgentMissing as exc:
        pytest.fail(str(exc))  # CI installs the zero-code extra (.[dev]): never a skip


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as started:
        yield started


def test_a_zero_code_service_exports_contrib_spans_and_none_of_ours(
    agent: str, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    users = MANIFEST.service("users")
    (port,) = free_ports(1)
    env = {
        TELEMETRY_VARIABLE: "zero-code",
        users.port_variable: str(port),
        f"{users.env_prefix}DATA_DIR": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within the test's patience
    }
    spec = ProcessSpec("users", "127.0.0.1", port, {**env, **agent_env("users", env)}, agent=agent)
    assert spec.argv()[0] == agent
    log_path = tmp_path / "users.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.argv(), env={**os.environ, **spec.env}, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                return httpx.get(f"{url}/health/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=60, interval=0.1, message="users ready under the agent")
        created = httpx.post(
            f"{url}/api/v1/users",
            json={"email": "zero.code@example.com", "name": "Zero Code"},
            timeout=10,
        )
        assert created.status_code == 201, created.text

        def server_span() -> ReceivedSpan | None:
            return next(
                (
                    span
                    for span in receiver.all_spans()
                    if span.scope in CONTRIB_SERVER_SCOPES
                    and span.kind == 2  # SERVER
                    and span.attributes.get("http.route") == "/api/v1/users"
                ),
                None,
            )

        server = wait_until(server_span, timeout=20, interval=0.1, message="a contrib server span")
        wait_until(
            lambda: any(s.scope in CONTRIB_DATABASE_SCOPES for s in receiver.all_spans()),
            timeout=20,
            interval=0.1,
            message="a contrib database span",
        )
    finally:
        process.terminate()
        process.wait(timeout=30)

    spans = receiver.all_spans()
    assert {span.service for span in spans} == {"users"}
    ours = sorted({span.scope for span in spans if span.scope.startswith("minishop")})
    assert ours == [], f"MiniShop's own spans in zero-code mode: {ours}"
    # The access line still carries a trace id: the contrib span's, which made the current one.
    access = [
        orjson.loads(line)
        for line in log_path.read_text(errors="replace").splitlines()
        if line.startswith("{") and '"POST /api/v1/users 201"' in line
    ]
    assert [line.get("trace_id") for line in access] == [server.trace_id]
