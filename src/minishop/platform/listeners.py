"""One process, several ports: an ASGI middleware that routes by the port a request came in on.

The console answers its web UI on one port and receives OTLP on another (CONTRACT section 8),
as a collector does. Both live in one process and one event loop, so a request to the
receiver must not pass through the UI's middleware (access log, tracing, 64 KiB body limit):
it is handed to its own application before any of them sees it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class ByLocalPort:
    """Sends HTTP requests that arrived on ``port`` to ``other``; everything else (the other
    port, and the lifespan events) to the wrapped application."""

    def __init__(self, app: ASGIApp, *, port: int, other: ASGIApp) -> None:
        self.app = app
        self.port = port
        self.other = other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server")
            if server is not None and server[1] == self.port:
                await self.other(scope, receive, send)
                return
        await self.app(scope, receive, send)
