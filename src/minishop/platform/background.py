"""A periodic job that runs beside a service and never takes it down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from opentelemetry.instrumentation.utils import suppress_instrumentation

from minishop.observability.logging import get_logger

_log = get_logger(__name__)


class PeriodicJob:
    """Runs ``job`` now and then every ``interval`` seconds until stopped.

    A quiet job (the default) is housekeeping, not traffic: its database statements and
    calls make no spans, so an idle shop's trace store does not fill with polls. A job
    whose work is a business event a person should see (a supplier's delivery, an order
    expiring) passes ``quiet=False``: its spans, statements and calls are real traces,
    and it keeps its own polling quiet (``suppress_instrumentation`` around the poll).
    """

    def __init__(
        self,
        name: str,
        interval: float,
        job: Callable[[], Awaitable[object]],
        *,
        quiet: bool = True,
    ) -> None:
        self._name = name
        self._interval = interval
        self._job = job
        self._quiet = quiet
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                with suppress_instrumentation() if self._quiet else contextlib.nullcontext():
                    await self._job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round may succeed; say so and go on
                _log.warning("background job failed", job=self._name, error=str(exc))
            await asyncio.sleep(self._interval)
