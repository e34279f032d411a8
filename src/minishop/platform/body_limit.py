"""Refuse request bodies larger than a service accepts, before they are buffered.

A plain ASGI middleware: a declared ``Content-Length`` over the limit is answered
with a 413 problem at once; a chunked body is counted as it streams and stopped
with :class:`BodyTooLarge`, a problem answered with the same 413.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minishop.platform.problems import Problem, problem_response

TOO_LARGE_DETAIL = "The request body is larger than this service accepts ({limit} bytes)."


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(413, TOO_LARGE_DETAIL.format(limit=limit), type_="body-too-large")


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

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

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)
