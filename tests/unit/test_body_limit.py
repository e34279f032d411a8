"""The body read timeout: slow bodies stop, complete bodies and other cancellations are left alone."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from minishop.platform.body_limit import BodyReadTimeout, BodySizeLimitMiddleware

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/order", "headers": []}


async def no_send(_message: Message) -> None:
    return None


def reading_app(reads: int) -> tuple[list[Message], object]:
    seen: list[Message] = []

    async def app(_scope: Scope, receive: Receive, _send: Send) -> None:
        for _ in range(reads):
            seen.append(await receive())

    return seen, app


def trickle(*pauses: float) -> Receive:
    """A body in ``len(pauses)`` parts, each after its pause, then a disconnect much later."""
    parts = list(pauses)

    async def receive() -> Message:
        if not parts:
            await asyncio.sleep(0.5)
            return {"type": "http.disconnect"}
        await asyncio.sleep(parts.pop(0))
        return {"type": "http.request", "body": b"x", "more_body": bool(parts)}

    return receive


async def test_a_body_slower_than_the_timeout_stops_with_408() -> None:
    seen, app = reading_app(reads=10)
    middleware = BodySizeLimitMiddleware(app, max_body_bytes=1024, read_timeout_seconds=0.2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(BodyReadTimeout) as stopped:
        await middleware(SCOPE, trickle(*[0.05] * 10), no_send)
    elapsed = asyncio.get_running_loop().time() - started
    assert stopped.value.status == 408
    assert stopped.value.headers == {"Connection": "close"}
    assert 0.2 <= elapsed < 1.0
    assert 2 <= len(seen) < 10


async def test_a_complete_body_is_never_cut_off_later() -> None:
    seen, app = reading_app(reads=3)  # two body parts, then a wait for the disconnect
    middleware = BodySizeLimitMiddleware(app, max_body_bytes=1024, read_timeout_seconds=0.2)
    await middleware(SCOPE, trickle(0.01, 0.01), no_send)
    assert [message["type"] for message in seen] == [
        "http.request",
        "http.request",
        "http.disconnect",
    ]


async def test_another_cancellation_is_still_a_cancellation() -> None:
    _, app = reading_app(reads=1)
    middleware = BodySizeLimitMiddleware(app, max_body_bytes=1024, read_timeout_seconds=0.2)
    task = asyncio.ensure_future(middleware(SCOPE, trickle(5), no_send))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
