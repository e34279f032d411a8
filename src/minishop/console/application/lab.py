"""The processes of the lab the console's home page lists, and what a probe learned of each.

The console looks at the shop from outside, over HTTP, as an operator would: it imports
no service. What a process is (its URL, where it says it is ready) comes from the adapter
that reads the manifest; how healthy it is comes from asking it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ProcessKind = Literal["service", "tool", "server"]
Health = Literal["ready", "live", "down"]


@dataclass(frozen=True, slots=True)
class LabProcess:
    """One process: a shop service, a lab tool (Slack receiver) or a server (Prometheus)."""

    name: str
    url: str
    kind: ProcessKind
    ready_path: str = "/health/ready"
    docs: bool = False  # it serves an OpenAPI page at /docs
    live_path: str = "/health/live"  # Prometheus and Alertmanager: /-/healthy

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    @property
    def docs_url(self) -> str | None:
        return f"{self.url}/docs" if self.docs else None


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """What a probe found: ready (answers and its dependencies are fine), live (answers but is
    not ready), or down (does not answer); the rest only when ``/health/live`` said it."""

    process: LabProcess
    health: Health
    version: str | None = None
    uptime_seconds: float | None = None
    restarts: int | None = None
    detail: str = ""  # why it is not ready, or the connection error


class LabDirectory(Protocol):
    """The home page's source: every process of the lab and, on demand, their health."""

    @property
    def processes(self) -> tuple[LabProcess, ...]: ...

    async def statuses(self) -> list[ProcessStatus]:
        """Every process probed concurrently, in ``processes`` order."""
        ...
