"""Added latency and CPU burn on a service's requests, as the fault flags ask (CONTRACT §9).

A plain ASGI middleware that ``create_service_app`` puts inside the observability
middleware, so the server span, ``request_duration_seconds`` and the access line all
include what a fault adds: a person finds the fault the way they would find a real one.

- ``service_latency SERVICE[/ROUTE] MS [JITTER]``: the request waits ``MS`` ± a uniform
  draw of ``JITTER`` (never below 0) before it is handled, without blocking the loop.
- ``cpu_burn SERVICE MS``: the request first spins ``MS`` of CPU on the event loop thread
  (:func:`~minishop.platform.cpu_burn.burn_cpu_for_fault`), so the whole service slows.

Each one adds the ``feature_flag.evaluation`` event to the request's span. Probes and
diagnostics are never slowed: ``/metrics``, ``/health/*`` (readiness must stay honest),
``/admin/*`` (where a person switches the fault off) and ``/debug/*`` (the profiler).

The hot path with both flags off is one read of ``flags.active`` and an identity check:
what the faults in force ask of this service is worked out once per change of the flag
file, not per request (``bench/flags.py`` measures it).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from minishop.flags import ActiveFaults, CpuBurn, FlagSource, Latency, record_evaluation
from minishop.platform.cpu_burn import burn_cpu_for_fault

EXEMPT_PATHS = frozenset({"/metrics"})
EXEMPT_PREFIXES = ("/health/", "/admin/", "/debug/")


def is_exempt(path: str) -> bool:
    """True for the probes and tools no fault may slow (see the module's docstring)."""
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def latency_ms(latency: Latency, rng: random.Random) -> float:
    """The delay of one request: ``ms`` ± a uniform draw within ``jitter_ms``, at least 0."""
    if not latency.jitter_ms:
        return latency.ms
    return max(0.0, latency.ms + rng.uniform(-latency.jitter_ms, latency.jitter_ms))


@dataclass(frozen=True)
class FaultPlan:
    """What the faults in force ask of one service; None when they ask nothing."""

    latency: Latency | None
    latency_variant: str
    burn: CpuBurn | None
    burn_variant: str

    @classmethod
    def for_service(cls, active: ActiveFaults, service: str) -> FaultPlan | None:
        latency = active.service_latency
        burn = active.cpu_burn
        latency = latency if latency is not None and latency.service == service else None
        burn = burn if burn is not None and burn.service == service else None
        if latency is None and burn is None:
            return None
        return cls(
            latency,
            active.variant("service_latency"),
            burn,
            active.variant("cpu_burn"),
        )


class FaultInjectionMiddleware:
    """Applies ``service_latency`` and ``cpu_burn`` to the requests of ``service``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        flags: FlagSource,
        service: str,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self._flags = flags
        self._service = service
        self._rng = rng or random.Random()
        self._seen: ActiveFaults | None = None
        self._plan: FaultPlan | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        active = self._flags.active  # replaced, never changed, when the file changes
        if active is not self._seen:
            self._plan = FaultPlan.for_service(active, self._service)
            self._seen = active
        plan = self._plan
        if plan is not None and scope["type"] == "http" and not is_exempt(scope["path"]):
            await self._inject(plan, scope["path"])
        await self.app(scope, receive, send)

    async def _inject(self, plan: FaultPlan, path: str) -> None:
        latency = plan.latency
        if latency is not None and latency.applies(self._service, path):
            delay = latency_ms(latency, self._rng)
            record_evaluation("service_latency", plan.latency_variant, round(delay, 3))
            if delay > 0:
                await asyncio.sleep(delay / 1000.0)
        burn = plan.burn
        if burn is not None:
            record_evaluation("cpu_burn", plan.burn_variant, burn.ms)
            burn_cpu_for_fault(burn.ms)
