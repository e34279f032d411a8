"""CPU profiles of a running service, the way Go's pprof serves them.

``GET /debug/pprof/profile?seconds=N`` (admin token: the ``debug`` zone of
``platform.access``) samples the service's event-loop thread for N seconds and answers the
profile as a speedscope file (https://www.speedscope.app/file-format-schema.json), which the
console's viewer opens (``/speedscope/``) and ``minishop profile`` saves.

How, and why that way:

- pyinstrument, a sampling profiler: every millisecond it records the Python stack of the
  thread it runs on. It is started on the event-loop thread with ``async_mode="disabled"``,
  so it sees everything that thread runs while the profile lasts: every request's
  middleware, handlers and database calls, the flag watcher, the telemetry export, and the
  time the loop waits for work (``select``/``epoll.poll`` or the loop's ``run`` frame). Not
  only the coroutine that asked for the profile, which would show nothing but its own sleep.
- The handler sleeps while the samples are taken (the loop keeps serving) and renders the
  file on a worker thread, so a profile never blocks the event loop.
- What it cannot see: work on other threads (thread-pool handlers) shows as the loop
  waiting for their result, and spans are encoded in the exporter process. SQLite's
  statements run on the loop itself, so they are in it.
- The clock is wall time, so the profile shows where the loop spent its time, waiting
  included: a CPU-bound function is a wide block of its own, an idle service is mostly
  the loop's wait.
- One profile at a time per process (a second one is a 409): two would sample the same
  thread twice, and each doubles the overhead.
- pyinstrument is imported on the first profile only: a service that is never profiled does
  not pay its memory (measured in ``pyproject.toml``'s comment).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from minishop.observability.logging import get_logger
from minishop.platform.openapi import problem_response
from minishop.platform.problems import Problem

if TYPE_CHECKING:  # imported on the first profile only (see the module's docstring)
    from pyinstrument.session import Session

PROFILE_PATH = "/debug/pprof/profile"
MIN_SECONDS = 1
MAX_SECONDS = 60
DEFAULT_SECONDS = 10
SAMPLE_INTERVAL_SECONDS = 0.005
"""200 samples a second at most (Go's pprof takes 100). pyinstrument samples at the first
call or return once the interval has passed, so a stretch that holds the loop for longer
than it is always sampled; one shorter, right after the loop was idle, may never be. The
overhead hardly depends on it (pyinstrument's hook runs on every call); the samples' memory
and the file's size do: a 5 s profile of a loop 10 % busy with deep stacks, in process, made
956 KB and +17 MB RSS at 1 ms, 124 KB and +3.4 MB at 5 ms."""
KEEP_EVERY_NODE = {"filter_threshold": 0}
"""pyinstrument drops the nodes under 1 % of the profile by default. Its speedscope output
is a timeline, one node per stretch of time, so each 30 ms burst of a hot function would
be dropped from a 10 s profile, however often it came back: keep them all."""
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
PROFILE_SUFFIX = ".speedscope.json"


class ProfilerBusy(Exception):
    """Another profile of this process is being recorded."""


@dataclass(frozen=True)
class RecordedProfile:
    """A finished profile: the speedscope file and what a log line says about it."""

    body: bytes
    samples: int
    seconds: float
    cpu_seconds: float


class CpuProfiler:
    """Records profiles of the thread it is called on, one at a time."""

    def __init__(self, interval_seconds: float = SAMPLE_INTERVAL_SECONDS) -> None:
        self._interval = interval_seconds
        self._recording = False

    @property
    def recording(self) -> bool:
        return self._recording

    async def record(self, seconds: float, *, description: str) -> RecordedProfile:
        """Sample the running event loop for ``seconds``; raise ``ProfilerBusy`` if one runs.

        Cancelled (the client went away, the service stops), it stops sampling at once.
        """
        if self._recording:
            raise ProfilerBusy
        self._recording = True
        try:
            from pyinstrument import Profiler

            profiler = Profiler(interval=self._interval, async_mode="disabled")
            profiler.start(target_description=description)
            try:
                await asyncio.sleep(seconds)
            finally:
                session = profiler.stop()  # on the thread that started it, as it must be
            body = await asyncio.to_thread(_render, session)
            return RecordedProfile(
                body=body,
                samples=session.sample_count,
                seconds=session.duration,
                cpu_seconds=session.cpu_time,
            )
        finally:
            self._recording = False


def _render(session: Session) -> bytes:
    """The speedscope file, made valid against the schema where pyinstrument writes nulls.

    pyinstrument writes ``"activeProfileIndex": null`` and a null ``file``/``line`` for
    frames it cannot place; the schema wants a number or nothing. Its one profile is the
    active one; unknown places are left out.
    """
    from pyinstrument.renderers import SpeedscopeRenderer

    document = orjson.loads(SpeedscopeRenderer(processor_options=KEEP_EVERY_NODE).render(session))
    document["activeProfileIndex"] = 0
    for frame in document["shared"]["frames"]:
        for key in ("file", "line", "col"):
            if key in frame and frame[key] is None:
                del frame[key]
    return orjson.dumps(document)


PROCESS_PROFILER = CpuProfiler()
"""This process's profiler: every app built in the process shares it (one profile at a time)."""


def profile_filename(service: str, at: datetime) -> str:
    """``orders-20261124T101952Z.speedscope.json``: the service and the UTC time it ended."""
    return f"{service}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}{PROFILE_SUFFIX}"


SPEEDSCOPE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The profile, a speedscope file: open it at the console's /speedscope/.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": f"A speedscope file ({SPEEDSCOPE_SCHEMA}).",
                    "required": ["$schema", "profiles", "shared"],
                    "properties": {
                        "$schema": {"type": "string", "enum": [SPEEDSCOPE_SCHEMA]},
                        "profiles": {"type": "array", "items": {"type": "object"}},
                        "shared": {"type": "object"},
                    },
                }
            }
        },
    },
    409: problem_response(409, "Another profile of this process is being recorded."),
}


def debug_router(
    service: str, *, profiler: CpuProfiler = PROCESS_PROFILER, documented: bool = True
) -> APIRouter:
    """``GET /debug/pprof/profile``: a CPU profile of this process (admin token)."""
    router = APIRouter(tags=["debugging"], include_in_schema=documented)
    log = get_logger("minishop.profiling")

    @router.get(PROFILE_PATH, response_class=Response, responses=SPEEDSCOPE_RESPONSE)
    async def cpu_profile(
        seconds: Annotated[
            int,
            Query(
                ge=MIN_SECONDS,
                le=MAX_SECONDS,
                description="How long to sample, in whole seconds.",
            ),
        ] = DEFAULT_SECONDS,
    ) -> Response:
        """Sample this service's event loop for ``seconds`` and answer a speedscope file.

        The service keeps serving meanwhile; its requests are what the profile shows.
        """
        description = f"{service} (pid {os.getpid()}), event-loop thread, {seconds} s"
        log.info("cpu profile started", seconds=seconds)
        try:
            recorded = await profiler.record(seconds, description=description)
        except ProfilerBusy:
            raise Problem(
                409,
                "A profile of this process is already being recorded: wait for it to end "
                "(at most 60 s), then ask again.",
                type_="profile-in-progress",
            ) from None
        log.info(
            "cpu profile recorded",
            seconds=round(recorded.seconds, 3),
            samples=recorded.samples,
            cpu_seconds=round(recorded.cpu_seconds, 3),
            bytes=len(recorded.body),
        )
        name = profile_filename(service, datetime.fromtimestamp(time.time(), UTC))
        return Response(
            recorded.body,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    return router
