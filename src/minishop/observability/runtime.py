"""Event-loop lag: the one saturation signal an asyncio service cannot see from outside."""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client import Gauge


class EventLoopLagMonitor:
    """Sleeps a fixed interval and records how late it woke up.

    A loop busy with CPU work or blocking calls wakes timers late; the overshoot is
    the delay every request waiting on that loop suffered too.
    """

    def __init__(self, gauge: Gauge, interval: float = 0.5) -> None:
        self._gauge = gauge
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="event-loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self._interval)
            self._gauge.set(max(0.0, time.perf_counter() - started - self._interval))
