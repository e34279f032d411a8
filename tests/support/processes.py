"""The shop as real processes, started through ``minishop up`` exactly as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from minishop.manifest import MANIFEST
from tests.support.helpers import wait_until

SERVICES = tuple(entry.name for entry in MANIFEST.shop)
SHOP_PORT_VARIABLES = {entry.name: entry.port_variable for entry in MANIFEST.shop}
MIGRATE_IN_PROCESS = {
    f"{entry.env_prefix}MIGRATIONS_IN_PROCESS": "true"
    for entry in MANIFEST.shop
    if entry.owns_database
}
"""The shops of these tests migrate in the services' own processes: a migration child per
service adds ~3 s to each start on two cores, and these tests start dozens of shops. The
child's path is what `minishop up` does by default; tests/unit/test_schema_upgrade.py and
test_service_modules.py run it."""
# What `minishop up` starts beside the shop, and the variable that sets each one's port.
STACK_PORT_VARIABLES = {
    **{entry.name: entry.port_variable for entry in MANIFEST.tools},
    "alertmanager": "MINISHOP_ALERTMANAGER_PORT",
    "prometheus": "MINISHOP_PROMETHEUS_PORT",
    "otlp": "MINISHOP_OTLP_PORT",  # the console's OTLP receiver, beside its web UI
}


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


@dataclass
class RunningShop:
    urls: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]
    port_variables: dict[str, str]

    def port_env(self) -> dict[str, str]:
        """The environment that points another ``minishop`` command at these processes."""
        return {
            variable: self.urls[name].rsplit(":", 1)[1]
            for name, variable in self.port_variables.items()
        }

    @property
    def admin_token(self) -> str:
        """The admin token as ``minishop up`` printed it in its banner."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if line.startswith("Admin token"):
                return lines[index + 1].strip()
        raise AssertionError("the banner shows no admin token")

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def log_lines(self) -> list[tuple[str, dict]]:
        """(service, JSON line) for each line the services wrote."""
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            service, sep, payload = raw.partition(" | ")
            if not sep or not payload.startswith("{"):
                continue
            try:
                lines.append((service.strip(), orjson.loads(payload)))
            except orjson.JSONDecodeError:
                continue
        return lines


@contextmanager
def shop_processes(
    tmp_path: Path,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    *,
    stack: bool = False,
) -> Iterator[RunningShop]:
    """The shop on free ports; with ``stack``, also Prometheus, Alertmanager, Slack receiver."""
    variables = dict(SHOP_PORT_VARIABLES)
    if stack:
        variables.update(STACK_PORT_VARIABLES)
    ports = dict(zip(variables, free_ports(len(variables)), strict=True))
    env = {
        **os.environ,
        **MIGRATE_IN_PROCESS,
        **{variables[name]: str(port) for name, port in ports.items()},
        **dict(extra_env or {}),
    }
    log_path = tmp_path / "shop.log"
    command = [sys.executable, "-m", "minishop", "up", "--data-dir", str(tmp_path / "data")]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command if stack else [*command, "--no-stack"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    running = RunningShop(
        urls={name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
        log_path=log_path,
        process=process,
        port_variables=variables,
    )
    try:

        def up() -> bool:
            if "MiniShop is up" in log_path.read_text(errors="replace"):
                return True
            if process.poll() is not None:
                raise RuntimeError(f"minishop up exited:\n{log_path.read_text()[-3000:]}")
            return False

        wait_until(
            up,
            timeout=timeout,
            interval=0.1,
            message=lambda: f"minishop up ready:\n{log_path.read_text()[-3000:]}",
        )
        httpx.get(f"{running.urls['gateway']}/health/ready", timeout=5).raise_for_status()
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
