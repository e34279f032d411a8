"""How every service is served: one uvicorn configuration, with the shop's limits.

``minishop serve`` (and so ``minishop up``) runs each service through :func:`serve`,
so the choices here hold for all of them:

- ``proxy_headers=False``: uvicorn would otherwise believe ``X-Forwarded-For`` from
  loopback and hand the application any client address a caller makes up. The
  connection's peer is the client; only the gateway looks past it, and only for the
  proxies its ``trusted_proxies`` setting names (gateway/domain/client_address.py).
- header size, header count and header read time are bounded by
  :mod:`minishop.platform.http_protocol` (httptools has no such limits);
- ``timeout_graceful_shutdown`` is the service's ``graceful_shutdown_seconds``, its share
  of the 5 s stop budget: the gateway drains first (1.5 s), then the services behind it
  (1 s), then each flushes its telemetry (bounded, see ``observability.export``);
- no ``server`` header, no uvicorn logging configuration and no access log: the
  observability middleware logs each request once, in the shop's JSON format;
- ``ws="none"``: no route of the shop speaks WebSocket, and uvicorn's default ("auto")
  loads the ``websockets`` library and its protocol classes into every process for
  nothing (the websockets package alone is 0.3 MB of RSS each, ``bench/import_cost.py``);
  an upgrade request is then answered as plain HTTP.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence

import uvicorn
from starlette.types import ASGIApp

from minishop.platform.http_protocol import limited_protocol
from minishop.platform.settings import ServiceSettings

KEEP_ALIVE_SECONDS = 5


def build_config(app: ASGIApp, settings: ServiceSettings) -> uvicorn.Config:
    """The uvicorn configuration of one service; tests start real servers from it too."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=limited_protocol(
            max_header_bytes=settings.max_header_bytes,
            max_header_count=settings.max_header_count,
            header_timeout_seconds=settings.header_read_timeout_seconds,
        ),
        ws="none",
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        server_header=False,
        log_config=None,
        access_log=False,
        lifespan="on",
    )


def serve(app: ASGIApp, settings: ServiceSettings, extra_ports: Sequence[int] = ()) -> bool:
    """Serve ``app`` until told to stop; False when the server never started.

    ``extra_ports`` are listened on too, by the same server and event loop (the console's
    OTLP receiver); the application tells them apart by ``scope["server"]``.
    """
    config = build_config(app, settings)
    server = uvicorn.Server(config)
    if not extra_ports:
        server.run()
        return server.started
    sockets: list[socket.socket] = []
    try:
        for port in (settings.port, *extra_ports):
            sockets.append(_listening_socket(settings.host, port))
    except OSError as exc:
        for sock in sockets:
            sock.close()
        sys.stderr.write(f"cannot listen on {settings.host}: {exc}\n")
        return False
    server.run(sockets=sockets)
    return server.started


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
