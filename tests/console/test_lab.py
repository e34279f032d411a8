"""The lab directory: the manifest's processes plus the monitoring servers, and their probe."""

from __future__ import annotations

import httpx

from minishop.console.adapters.lab import HttpLab, lab_processes, probe
from minishop.console.application.lab import LabProcess
from minishop.console.settings import ConsoleSettings
from minishop.manifest import MANIFEST


def test_every_manifest_process_but_the_console_plus_prometheus_and_alertmanager() -> None:
    settings = ConsoleSettings(downstream_urls={"orders_url": "http://10.0.0.5:9003/"})
    processes = {process.name: process for process in lab_processes(settings, MANIFEST)}
    assert "console" not in processes
    assert set(processes) == (set(MANIFEST.names) - {"console"}) | {"prometheus", "alertmanager"}
    assert processes["orders"].url == "http://10.0.0.5:9003"
    assert processes["users"].url == "http://127.0.0.1:8001"
    assert processes["users"].kind == "service" and processes["users"].docs
    assert processes["slack-receiver"].kind == "tool"
    prometheus = processes["prometheus"]
    assert (prometheus.kind, prometheus.url, prometheus.ready_path) == (
        "server",
        "http://127.0.0.1:9090",
        "/-/ready",
    )
    assert processes["alertmanager"].url == "http://127.0.0.1:9093" and not prometheus.docs


def _answers(routes: dict[str, httpx.Response | Exception]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = routes.get(f"{request.url.host}:{request.url.port}{request.url.path}")
        if answer is None:
            raise httpx.ConnectError("refused", request=request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handle)


USERS = LabProcess("users", "http://users:1", "service", docs=True)
ORDERS = LabProcess("orders", "http://orders:2", "service", docs=True)
GONE = LabProcess("payments", "http://payments:3", "service")
PROMETHEUS = LabProcess("prometheus", "http://prom:4", "server", "/-/ready", live_path="/-/healthy")
LIVE = {
    "status": "pass",
    "service": "users",
    "version": "0.9.0",
    "uptime_seconds": 12.5,
    "restarts": 1,
}


async def test_probe_reads_live_and_ready() -> None:
    transport = _answers(
        {
            "users:1/health/live": httpx.Response(200, json=LIVE),
            "users:1/health/ready": httpx.Response(200, json={"status": "pass"}),
            "orders:2/health/live": httpx.Response(200, json={**LIVE, "restarts": "x"}),
            "orders:2/health/ready": httpx.Response(503, json={"status": "fail"}),
            "prom:4/-/healthy": httpx.Response(200, text="Healthy"),
            "prom:4/-/ready": httpx.Response(200, text="Ready"),
        }
    )
    async with httpx.AsyncClient(transport=transport) as client:
        users = await probe(client, USERS)
        orders = await probe(client, ORDERS)
        gone = await probe(client, GONE)
        prometheus = await probe(client, PROMETHEUS)
    assert (users.health, users.version, users.uptime_seconds, users.restarts) == (
        "ready",
        "0.9.0",
        12.5,
        1,
    )
    assert orders.health == "live" and orders.restarts is None and "503" in orders.detail
    assert gone.health == "down" and gone.detail == "connection refused"
    assert prometheus.health == "ready" and prometheus.version is None


async def test_http_lab_probes_every_process_in_order() -> None:
    transport = _answers({"users:1/health/ready": httpx.Response(200)})
    lab = HttpLab([GONE, USERS], transport=transport)
    statuses = await lab.statuses()
    assert [(s.process.name, s.health) for s in statuses] == [
        ("payments", "down"),
        ("users", "ready"),
    ]
    assert lab.processes == (GONE, USERS)
