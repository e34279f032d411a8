"""``/health/live`` and ``/health/ready`` (CONTRACT §5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

HealthCheck = Callable[[], Awaitable[None]]
"""A readiness check: returns when the dependency is usable, raises when it is not."""

CHECK_TIMEOUT_SECONDS = 2.0


async def _run_check(check: HealthCheck) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        outcome: dict[str, object] = {"status": "fail", "error": "timed out"}
    except Exception as exc:
        outcome = {"status": "fail", "error": str(exc) or type(exc).__name__}
    else:
        outcome = {"status": "pass"}
    outcome["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return outcome


async def run_readiness(checks: Mapping[str, HealthCheck]) -> tuple[bool, dict[str, object]]:
    """Run every check concurrently: (all passed, each check's result by name)."""
    names = list(checks)
    results = await asyncio.gather(*(_run_check(checks[name]) for name in names))
    healthy = all(result["status"] == "pass" for result in results)
    return healthy, dict(zip(names, results, strict=True))


def build_health_router(
    service: str,
    checks: Mapping[str, HealthCheck],
    *,
    version: str = "unknown",
    restarts: int = 0,
    on_readiness: Callable[[bool], None] | None = None,
) -> APIRouter:
    """Liveness never looks at dependencies; readiness runs every check concurrently.

    Liveness also says how long this process has run and how often its supervisor
    restarted the service, so ``minishop status`` can show a service that keeps crashing.
    ``on_readiness`` hears each readiness answer (the ``service_ready`` gauge keeps it).
    """
    router = APIRouter(prefix="/health", tags=["health"])
    started = time.monotonic()

    @router.get("/live")
    async def live() -> JSONResponse:
        return JSONResponse(
            {
                "status": "pass",
                "service": service,
                "version": version,
                "uptime_seconds": round(time.monotonic() - started, 3),
                "restarts": restarts,
            }
        )

    @router.get("/ready")
    async def ready() -> JSONResponse:
        healthy, outcome = await run_readiness(checks)
        if on_readiness is not None:
            on_readiness(healthy)
        return JSONResponse(
            {"status": "pass" if healthy else "fail", "service": service, "checks": outcome},
            status_code=200 if healthy else 503,
        )

    return router
