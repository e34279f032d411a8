"""Refuse request bodies that are too large or too slow, before they are buffered or waited on.

A plain ASGI middleware: a declared ``Content-Length`` over the limit is answered
with a 413 problem at once; a chunked body is counted as it streams and stopped
with :class:`BodyTooLarge`, a problem answered with the same 413.

A body still incomplete ``read_timeout_seconds`` after the request started stops
with :class:`BodyReadTimeout`, a 408 problem that also closes the connection: a
client trickling a body one byte at a time would otherwise hold a connection (and
the handler waiting on it) for as long as it likes. Once the body is complete the
application's further ``receive`` calls (waiting for a disconnect) are not timed.

Deadlines are kept by one :class:`ReadWatchdog` per middleware rather than a timer
per read: ``asyncio.timeout`` costs about 5 µs per read on uvloop (measured with
bench/http_limits_cost.py), a dictionary entry a fraction of that. The price is
precision: a late body is cut off up to a quarter of the timeout (at most 1 s) late.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minishop.platform.problems import Problem, problem_response

TOO_LARGE_DETAIL = "The request body is larger than this service accepts ({limit} bytes)."
TOO_SLOW_DETAIL = "The request body did not arrive within {seconds:g} seconds."


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(413, TOO_LARGE_DETAIL.format(limit=limit), type_="body-too-large")


class BodyReadTimeout(Problem):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            TOO_SLOW_DETAIL.format(seconds=seconds),
            type_="request-timeout",
            title="Request Timeout",
            headers={"Connection": "close"},  # the rest of the body may still be on its way
        )


class BodySizeLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, read_timeout_seconds: float = 10.0
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout_seconds = read_timeout_seconds
        self._watchdog = ReadWatchdog(tick=min(1.0, read_timeout_seconds / 4))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    response = problem_response(400, "Content-Length is not a number.")
                    await response(scope, receive, send)
                    return
                if declared > limit:
                    response = problem_response(
                        413, TOO_LARGE_DETAIL.format(limit=limit), instance=scope["path"]
                    )
                    await response(scope, receive, send)
                    return
                break

        timeout = self.read_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        received = 0
        body_complete = False

        async def limited_receive() -> Message:
            nonlocal received, body_complete
            if body_complete:
                return await receive()
            try:
                message = await self._watchdog.guard(receive, deadline)
            except TimeoutError:
                raise BodyReadTimeout(timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                body_complete = not message.get("more_body", False)
            else:
                body_complete = True  # disconnected: nothing more will come
            return message

        await self.app(scope, limited_receive, send)


class ReadWatchdog:
    """Cancels reads still waiting past their deadline; one timer for all of them.

    The timer runs only while some read is waiting, every ``tick`` seconds; a read
    it cancels ends in TimeoutError (another cancellation of the same task, such as
    a shutdown, still propagates as a cancellation).
    """

    def __init__(self, tick: float) -> None:
        self._tick = tick
        self._waiting: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    async def guard(self, receive: Receive, deadline: float) -> Message:
        """``receive()``, or TimeoutError once ``deadline`` (loop time) passed."""
        task = asyncio.current_task()
        if task is None:  # not inside a task: nothing to cancel, read untimed
            return await receive()
        cancelling = task.cancelling()
        self._waiting[task] = deadline
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(loop.time() + self._tick, self._check, loop)
        try:
            return await receive()
        except asyncio.CancelledError:
            if task in self._expired and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            self._waiting.pop(task, None)
            self._expired.discard(task)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, deadline in list(self._waiting.items()):
            if deadline <= now:
                del self._waiting[task]
                self._expired.add(task)
                task.cancel()
        self._timer = loop.call_at(now + self._tick, self._check, loop) if self._waiting else None
