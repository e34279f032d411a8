"""Each service's view of the fault flags, counted and served on ``GET /admin/flags``.

Every change a service sees is logged by the flag source and counted here in
``feature_flag_changes_total{service, flag, variant}``, so a dashboard or a person reading
the metrics can line a symptom up with the switch that caused it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from minishop.flags import FlagSource
from minishop.flags.source import POLL_SECONDS
from minishop.observability import ServiceMetrics
from minishop.platform.background import PeriodicJob
from minishop.platform.settings import ServiceSettings


def service_flags(service: str, settings: ServiceSettings, metrics: ServiceMetrics) -> FlagSource:
    """The flag source of ``service``, its changes and unreadable versions counted."""
    changes = metrics.counter(
        "feature_flag_changes",
        "Fault flag changes this service saw in the flag file, by flag and variant now in force.",
        ["flag", "variant"],
    )
    errors = metrics.counter(
        "feature_flag_file_errors",
        "Versions of the flag file this service could not read (it kept the flags in force).",
    ).labels(service)
    return FlagSource(
        settings.flags_path(),
        service=service,
        environment=settings.environment,
        on_change=lambda flag, variant, _value: changes.labels(service, flag, variant).inc(),
        on_error=lambda _message: errors.inc(),
    )


def flag_watch(flags: FlagSource) -> PeriodicJob:
    """Re-reads the flag file every half second (a stat when it did not change)."""

    async def refresh() -> None:
        flags.refresh()

    return PeriodicJob("flag-watch", POLL_SECONDS, refresh)


def flags_router(flags: FlagSource) -> APIRouter:
    """``GET /admin/flags``: what this service sees in force (admin token, CONTRACT §9)."""
    router = APIRouter(tags=["fault injection"])

    @router.get("/admin/flags")
    async def seen_flags() -> dict[str, Any]:
        """The fault flags as this service sees them now, and the file it reads them from."""
        return flags.snapshot()

    return router
