"""Limits that hold: per-peer rate limits, failed-key throttling, header and body limits.

The rate and authentication limits are checked in process (the ASGI transport sets
the peer); the header and body limits live in the HTTP protocol and the server
configuration, so they are checked on a real uvicorn server built by
``minishop.platform.server``, with raw sockets.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from minishop.gateway.bootstrap import create_app as create_gateway
from minishop.gateway.settings import GatewaySettings
from tests.support.helpers import assert_problem, order_body
from tests.support.served import Served, closed_by_peer, read_response, served
from tests.support.shop import BASE, PUBLIC_SERVICES


class RecordingUpstream(httpx.AsyncBaseTransport):
    """Every service behind the gateway: answers 200 and remembers what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        if not request.url.path.startswith("/health/"):  # the readiness probe's, not clients'
            self.paths.append(request.url.path)
        return httpx.Response(200, json={"items": []})


def gateway_settings(tmp_path: Path, **options: object) -> GatewaySettings:
    return GatewaySettings(data_dir=tmp_path, log_level="WARNING", **options)  # type: ignore[arg-type]


def build_gateway(settings: GatewaySettings, upstream: RecordingUpstream) -> FastAPI:
    return create_gateway(settings, transports=dict.fromkeys(PUBLIC_SERVICES, upstream))


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


def client_from(app: FastAPI, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


# --- who the client is ------------------------------------------------------------------


async def test_rotating_x_forwarded_for_does_not_bypass_the_rate_limit(tmp_path: Path) -> None:
    upstream = RecordingUpstream()
    app = build_gateway(
        gateway_settings(tmp_path, rate_limit_per_second=1, rate_limit_burst=2), upstream
    )
    async with running(app), client_from(app, "127.0.0.1") as client:
        statuses = [
            (
                await client.get("/api/v1/products", headers={"X-Forwarded-For": f"198.51.100.{i}"})
            ).status_code
            for i in range(3)
        ]
        assert statuses == [200, 200, 429]
        async with client_from(app, "127.0.0.2") as neighbour:  # another peer: its own bucket
            assert (await neighbour.get("/api/v1/products")).status_code == 200
    assert len(upstream.paths) == 3


async def test_a_trusted_proxy_forwards_one_bucket_per_client(tmp_path: Path) -> None:
    upstream = RecordingUpstream()
    settings = gateway_settings(
        tmp_path, rate_limit_per_second=1, rate_limit_burst=2, trusted_proxies="127.0.0.1"
    )
    app = build_gateway(settings, upstream)
    async with running(app), client_from(app, "127.0.0.1") as proxy:
        for i in range(4):  # each client behind the proxy: two requests, all within its burst
            for _ in range(2):
                forwarded = {"X-Forwarded-For": f"203.0.113.66, 198.51.100.{i}"}
                assert (await proxy.get("/api/v1/products", headers=forwarded)).status_code == 200
        again = await proxy.get("/api/v1/products", headers={"X-Forwarded-For": "198.51.100.0"})
        assert_problem(again, 429)
        # A peer that is not the trusted proxy is itself the client, whatever it forwards.
        async with client_from(app, "192.0.2.50") as stranger:
            statuses = [
                (
                    await stranger.get(
                        "/api/v1/products", headers={"X-Forwarded-For": f"198.51.100.{50 + i}"}
                    )
                ).status_code
                for i in range(3)
            ]
            assert statuses == [200, 200, 429]


async def test_random_api_keys_do_not_bypass_the_rate_limit(tmp_path: Path) -> None:
    upstream = RecordingUpstream()
    app = build_gateway(
        gateway_settings(tmp_path, rate_limit_per_second=1, rate_limit_burst=2), upstream
    )
    async with running(app), client_from(app, "127.0.0.1") as client:
        statuses = [
            (await client.get("/api/v1/products", headers={"X-API-Key": f"key-{i}"})).status_code
            for i in range(3)
        ]
    assert statuses == [200, 200, 429]


async def test_failed_keys_are_throttled_per_peer(tmp_path: Path) -> None:
    upstream = RecordingUpstream()
    settings = gateway_settings(
        tmp_path,
        api_keys="right-key",
        auth_failure_limit=3,
        auth_failure_window_seconds=60,
        auth_failure_block_seconds=30,
    )
    app = build_gateway(settings, upstream)
    async with (
        running(app),
        client_from(app, "192.0.2.1") as guesser,
        client_from(app, "192.0.2.2") as neighbour,
    ):
        for guess in ("a", "b", "c"):
            assert_problem(await guesser.get("/api/v1/users", headers={"X-API-Key": guess}), 401)
        refused = await guesser.post(
            "/order", json=order_body(), headers={"X-API-Key": "right-key"}
        )
        body = assert_problem(refused, 429)
        assert body["type"] == "auth-throttled"
        assert 1 <= int(refused.headers["retry-after"]) <= 30
        assert_problem(await guesser.get("/api/v1/users"), 429)  # no key at all: still refused

        assert_problem(await neighbour.get("/api/v1/users", headers={"X-API-Key": "x"}), 401)
        allowed = await neighbour.get("/api/v1/users", headers={"X-API-Key": "right-key"})
        assert allowed.status_code == 200
    assert upstream.paths == ["/api/v1/users"]  # only the neighbour's request went through


# --- header and body limits on a real server ----------------------------------------------


@contextlib.contextmanager
def served_gateway(tmp_path: Path, **options: object) -> Iterator[tuple[Served, RecordingUpstream]]:
    upstream = RecordingUpstream()
    settings = gateway_settings(tmp_path, **options)
    with served(build_gateway(settings, upstream), settings) as server:
        yield server, upstream


def send_all_it_takes(sock: socket.socket, data: bytes) -> None:
    """Send ``data``; a server that refused early may close before it is all sent."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for start in range(0, len(data), 65536):
            sock.sendall(data[start : start + 65536])


def test_the_server_does_not_believe_x_forwarded_for(tmp_path: Path) -> None:
    with served_gateway(tmp_path, rate_limit_per_second=1, rate_limit_burst=2) as (server, _):
        statuses = [
            httpx.get(
                f"{server.url}/api/v1/products", headers={"X-Forwarded-For": f"198.51.100.{i}"}
            ).status_code
            for i in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_an_oversized_header_is_refused_and_nothing_forwarded(tmp_path: Path) -> None:
    with served_gateway(tmp_path, max_header_bytes=16_384) as (server, upstream):
        with server.connect() as sock:
            request = b"GET /api/v1/products HTTP/1.1\r\nHost: shop\r\nX-Big: "
            send_all_it_takes(sock, request + b"a" * 1_048_576 + b"\r\n\r\n")
            status, headers, body = read_response(sock)
            assert status == 431
            assert headers["content-type"] == "application/problem+json"
            assert headers["connection"] == "close"
            assert b'"headers-too-large"' in body
            assert closed_by_peer(sock)
        # Just under the limit is fine, and normal requests go through as before.
        fits = httpx.get(f"{server.url}/api/v1/products", headers={"X-Big": "a" * 15_000})
        assert fits.status_code == 200
        too_big = httpx.get(f"{server.url}/api/v1/products", headers={"X-Big": "a" * 16_400})
        assert_problem(too_big, 431)
    assert upstream.paths == ["/api/v1/products"]


def test_too_many_headers_are_refused(tmp_path: Path) -> None:
    def request(header_count: int) -> bytes:
        extra = b"".join(b"X-H%d: v\r\n" % i for i in range(header_count - 1))
        return b"GET /api/v1/products HTTP/1.1\r\nHost: shop\r\n" + extra + b"\r\n"

    with served_gateway(tmp_path, max_header_count=100) as (server, upstream):
        with server.connect() as sock:
            sock.sendall(request(100))
            assert read_response(sock)[0] == 200
        with server.connect() as sock:
            sock.sendall(request(101))
            status, _, body = read_response(sock)
            assert status == 431
            assert b'"too-many-headers"' in body
            assert closed_by_peer(sock)
    assert upstream.paths == ["/api/v1/products"]


def trickle_until_answered(
    sock: socket.socket, data: bytes, interval: float, limit: float
) -> float:
    """Send ``data`` a byte per ``interval`` until the server answers; seconds it took."""
    started = time.monotonic()
    for byte in data:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(bytes([byte]))
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return time.monotonic() - started
        assert time.monotonic() - started < limit, "the server never answered"
    pytest.fail("the whole request was sent before the server answered")


def test_a_trickling_body_is_answered_408(tmp_path: Path) -> None:
    with served_gateway(tmp_path, body_read_timeout_seconds=1) as (server, upstream):
        with server.connect() as sock:
            sock.sendall(
                b"POST /order HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
                b"Content-Length: 200\r\n\r\n"
            )
            waited = trickle_until_answered(sock, b"{" + b" " * 199, interval=0.1, limit=5)
            status, headers, body = read_response(sock)
            assert status == 408
            assert headers["content-type"] == "application/problem+json"
            assert headers["connection"] == "close"
            assert b'"request-timeout"' in body
            assert 1 <= waited < 3  # the setting, not the client, decides
            assert closed_by_peer(sock)
        # A body sent at once is unaffected.
        placed = httpx.post(f"{server.url}/order", json=order_body())
        assert placed.status_code == 200
    assert upstream.paths == ["/api/v1/orders"]


def test_trickling_headers_are_answered_408_and_idle_connections_closed(tmp_path: Path) -> None:
    with served_gateway(tmp_path, header_read_timeout_seconds=1) as (server, upstream):
        with server.connect() as sock:
            waited = trickle_until_answered(
                sock,
                b"GET /api/v1/products HTTP/1.1\r\nHost: shop\r\nX-Slow: " + b"a" * 200,
                0.1,
                5,
            )
            status, headers, _ = read_response(sock)
            assert status == 408
            assert headers["connection"] == "close"
            assert 1 <= waited < 3
            assert closed_by_peer(sock)
        with server.connect() as kept_alive:  # the next request on a kept-alive connection
            kept_alive.sendall(b"GET /api/v1/products HTTP/1.1\r\nHost: shop\r\n\r\n")
            assert read_response(kept_alive)[0] == 200
            waited = trickle_until_answered(
                kept_alive, b"GET /api/v1/products HTTP/1.1\r\n", 0.1, 5
            )
            assert read_response(kept_alive)[0] == 408
            assert 1 <= waited < 3
        with server.connect(timeout=5) as idle:
            started = time.monotonic()
            assert idle.recv(1024) == b""  # closed quietly: no request, no answer
            assert time.monotonic() - started < 3
        assert httpx.get(f"{server.url}/api/v1/products").status_code == 200
    assert upstream.paths == ["/api/v1/products"] * 2
