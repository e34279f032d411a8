"""The lab's processes, from the manifest, and their health, asked over HTTP.

Every process of ``minishop up`` but the console itself, plus Prometheus and Alertmanager
(which ``minishop up`` runs when installed). A probe asks ``/health/live`` (version, uptime,
restarts) and the readiness path concurrently, with a short timeout: the home page must
answer quickly even when half the lab is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from minishop.console.application.lab import LabProcess, ProcessStatus
from minishop.console.settings import ConsoleSettings
from minishop.manifest import Manifest

CONSOLE = "console"
PROBE_TIMEOUT_SECONDS = 1.0
SERVERS = (("prometheus", 9090), ("alertmanager", 9093))


def lab_processes(settings: ConsoleSettings, manifest: Manifest) -> tuple[LabProcess, ...]:
    """In the manifest's start order, then the monitoring servers."""
    processes = [
        LabProcess(
            name=entry.name,
            url=settings.url_for(entry.name, entry.port).rstrip("/"),
            kind="service" if entry.part_of_shop else "tool",
            docs=True,
        )
        for entry in manifest
        if entry.name != CONSOLE
    ]
    processes += [
        LabProcess(
            name=name,
            url=settings.url_for(name, port).rstrip("/"),
            kind="server",
            ready_path="/-/ready",
            live_path="/-/healthy",
        )
        for name, port in SERVERS
    ]
    return tuple(processes)


def _describe(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.ConnectError):
        return "connection refused"
    return str(error) or type(error).__name__


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response | Exception:
    try:
        return await client.get(url, timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # every failure is an answer here: the process is down
        return exc


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def probe(client: httpx.AsyncClient, process: LabProcess) -> ProcessStatus:
    """Ready, live or down, with what ``/health/live`` says of the process when it says it."""
    live, ready = await asyncio.gather(
        _get(client, process.url + process.live_path),
        _get(client, process.url + process.ready_path),
    )
    if isinstance(ready, httpx.Response) and ready.is_success:
        health = "ready"
        detail = ""
    elif isinstance(live, httpx.Response) and live.is_success:
        health = "live"
        detail = (
            f"not ready ({ready.status_code})"
            if isinstance(ready, httpx.Response)
            else f"not ready: {_describe(ready)}"
        )
    else:
        return ProcessStatus(
            process,
            "down",
            detail=_describe(live)
            if isinstance(live, Exception)
            else f"{process.live_path} answered {live.status_code}",
        )
    info: dict[str, Any] = {}
    if isinstance(live, httpx.Response) and live.is_success:
        try:
            body = live.json()
        except ValueError:
            body = None
        info = body if isinstance(body, dict) else {}
    version = info.get("version")
    restarts = _number(info.get("restarts"))
    return ProcessStatus(
        process,
        health,
        version=str(version) if isinstance(version, str | int | float) else None,
        uptime_seconds=_number(info.get("uptime_seconds")),
        restarts=int(restarts) if restarts is not None else None,
        detail=detail,
    )


async def probe_all(
    client: httpx.AsyncClient, processes: Sequence[LabProcess]
) -> list[ProcessStatus]:
    return list(await asyncio.gather(*(probe(client, process) for process in processes)))


class HttpLab:
    """The ``LabDirectory`` of a running lab: probes with a client made for each look."""

    def __init__(
        self,
        processes: Sequence[LabProcess],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._processes = tuple(processes)
        self._transport = transport

    @property
    def processes(self) -> tuple[LabProcess, ...]:
        return self._processes

    async def statuses(self) -> list[ProcessStatus]:
        async with httpx.AsyncClient(transport=self._transport, trust_env=False) as client:
            return await probe_all(client, self._processes)
