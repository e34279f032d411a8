"""Readiness that Prometheus can see, and the ``readiness_failure`` fault flag.

``/health/ready`` answers whoever asks, but Prometheus only scrapes ``/metrics``: the
``service_ready{service}`` gauge (1 ready, 0 not) carries the answer there, so an alert
(``ServiceNotReady``) and a dashboard see a service drop out of rotation. A periodic probe
runs the same checks every few seconds (``readiness_probe_interval_seconds``) and every
``/health/ready`` answer updates the gauge too; the gauge reads 0 until the first run.

The fault is one more readiness check, ``fault_flag``, that fails while the flag names
this service: ``/health/ready`` then answers 503 with that check's error, liveness stays
200, and the gauge drops to 0 within one probe interval.
"""

from __future__ import annotations

from collections.abc import Mapping

from minishop.flags import FlagSource
from minishop.observability import HealthCheck, ServiceMetrics
from minishop.observability.health import run_readiness
from minishop.platform.background import PeriodicJob

FAULT_CHECK = "fault_flag"
FAULT_ERROR = "readiness_failure flag is on"


class ReadinessFault(RuntimeError):
    """The ``readiness_failure`` flag names this service."""


def fault_flag_check(flags: FlagSource, service: str) -> HealthCheck:
    """A readiness check that fails while ``readiness_failure`` names ``service``."""

    async def check() -> None:
        if flags.active.readiness_failure == service:
            raise ReadinessFault(FAULT_ERROR)

    return check


class ReadinessGauge:
    """``service_ready{service}``: the result of the last readiness run, probed periodically."""

    def __init__(
        self, metrics: ServiceMetrics, checks: Mapping[str, HealthCheck], interval: float
    ) -> None:
        self._checks = checks
        self._gauge = metrics.gauge(
            "service_ready",
            "1 when the service's last readiness checks all passed, 0 when one failed "
            "(run every few seconds and on each GET /health/ready).",
        ).labels(metrics.service)
        self._gauge.set(0)
        self._job = PeriodicJob("readiness-probe", interval, self.probe)

    def record(self, ready: bool) -> None:
        """Keep one readiness answer (``/health/ready`` calls this with each of its own)."""
        self._gauge.set(1 if ready else 0)

    async def probe(self) -> bool:
        """Run the readiness checks now and keep the result."""
        ready, _results = await run_readiness(self._checks)
        self.record(ready)
        return ready

    async def start(self) -> None:
        await self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
