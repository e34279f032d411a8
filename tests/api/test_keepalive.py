"""A 500 never breaks the next requests, over real sockets.

Two halves, each tested on its own: a service keeps its keep-alive connection after
answering a 500 (and logs the failure once), and the client every service uses
copes with a server that closes a pooled connection, without ever sending a
non-idempotent request twice.
"""

from __future__ import annotations

import asyncio
import io
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from minishop.observability import setup_telemetry
from minishop.observability.logging import configure_logging
from minishop.orders.settings import OrdersSettings
from minishop.platform.http import build_client
from minishop.platform.server import build_config
from minishop.platform.service_app import ServiceParts, create_service_app
from tests.support.helpers import assert_problem

# --- the service side: uvicorn + the shared service app -------------------------------


def _service_app(stream: io.BytesIO, spans: InMemorySpanExporter | None = None) -> FastAPI:
    telemetry = setup_telemetry(
        "orders",
        version="test",
        environment="test",
        span_exporter=spans if spans is not None else InMemorySpanExporter(),
    )
    configure_logging("orders", "INFO", stream=stream)
    router = APIRouter()

    @router.post("/boom")
    async def boom() -> None:
        raise RuntimeError("lost the row of ada@example.com, card 4242 4242 4242 4242")

    @router.get("/half-answer")
    async def half_answer() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"items": ['
            raise RuntimeError("failed mid-answer for ada@example.com")

        return StreamingResponse(chunks(), media_type="application/json")

    @router.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        assert request.client is not None
        return {"client_port": request.client.port}

    return create_service_app(
        ServiceParts(
            name="orders",
            description="A service with one bug.",
            telemetry=telemetry,
            routers=[router],
            settings=OrdersSettings(max_body_bytes=1024, body_read_timeout_seconds=10.0),
        )
    )


@asynccontextmanager
async def _uvicorn(app: FastAPI) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free port, as ``minishop serve`` runs it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(build_config(app, OrdersSettings(port=port)))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        listener.close()


def _client(url: str) -> httpx.AsyncClient:
    return build_client(url, peer="orders", tracer=TracerProvider().get_tracer("t"), timeout=5)


async def test_after_a_500_the_connection_stays_open_and_the_next_20_posts_succeed() -> None:
    stream = io.BytesIO()
    spans = InMemorySpanExporter()
    async with _uvicorn(_service_app(stream, spans)) as url:
        client = _client(url)
        try:
            first = await client.post("/echo", json={})
            failed = await client.post("/boom", json={})
            after = [await client.post("/echo", json={"n": n}) for n in range(20)]
        finally:
            await client.aclose()

    body = assert_problem(failed, 500)
    assert "ada@example.com" not in failed.text and "RuntimeError" not in failed.text
    assert "traceresponse" in failed.headers  # the 500 went out through the observability layer
    assert [response.status_code for response in after] == [200] * 20
    ports = {first.json()["client_port"], *(response.json()["client_port"] for response in after)}
    assert len(ports) == 1, "the 500 must not close the keep-alive connection"
    assert body["instance"] == "/boom"

    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    errors = [line for line in lines if line["level"] == "error"]
    assert len(errors) == 1, errors  # not again as uvicorn's "Exception in ASGI application"
    (error,) = errors
    assert error["route"] == "/boom" and error["status"] == 500
    assert error["reason"] == "http_500" and error["error_type"] == "RuntimeError"
    assert len(error["trace_id"]) == 32
    assert "RuntimeError: lost the row of a***@example.com, card [REDACTED]" in error["exception"]
    text = stream.getvalue().decode()
    assert "ada@example.com" not in text and "4242 4242" not in text

    (span,) = [span for span in spans.get_finished_spans() if span.name == "POST /boom"]
    (event,) = [event for event in span.events if event.name == "exception"]
    assert event.attributes is not None
    assert "a***@example.com" in str(event.attributes["exception.message"])
    assert "ada@example.com" not in str(event.attributes["exception.stacktrace"])


async def test_a_failure_after_the_answer_started_is_still_logged_once() -> None:
    """Too late for a 500: the server must cut the connection, and its report is dropped."""
    stream = io.BytesIO()
    async with _uvicorn(_service_app(stream)) as url, httpx.AsyncClient(base_url=url) as client:
        with pytest.raises(httpx.HTTPError):  # the answer is cut short
            await client.get("/half-answer")
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    errors = [line for line in lines if line["level"] == "error"]
    assert len(errors) == 1, [line["message"] for line in errors]
    assert errors[0]["route"] == "/half-answer" and errors[0]["error_type"] == "RuntimeError"
    assert "ada@example.com" not in stream.getvalue().decode()


# --- the client side: a scripted HTTP/1.1 server --------------------------------------

Behaviour = Callable[[int, int], str]  # (connection number, request on it) -> what to do
ANSWER, ANSWER_THEN_CLOSE, CLOSE_UNANSWERED = "answer", "answer-then-close", "close"
RESET_UNANSWERED = "reset"  # closed with an RST (SO_LINGER 0): ECONNRESET on the client


class ScriptedServer:
    """Answers like a keep-alive server, except where ``behaviour`` says to hang up.

    Records every request it read (method, path, connection number) so a test can
    tell a request that reached the server from one that never did.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.received: list[tuple[str, str, int]] = []
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in header_lines
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                self.received.append((method, path, connection))
                served += 1
                action = self.behaviour(connection, served)
                if action == RESET_UNANSWERED:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                if action == CLOSE_UNANSWERED:
                    break
                payload = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
                )
                await writer.drain()
                if action == ANSWER_THEN_CLOSE:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


async def test_a_connection_closed_after_each_answer_never_fails_the_next_posts() -> None:
    """What uvicorn did after a 500: answer, then close a connection it had kept alive."""
    server = ScriptedServer(lambda _connection, _served: ANSWER_THEN_CLOSE)
    async with server as url:
        client = _client(url)
        try:
            statuses = []
            for n in range(20):
                statuses.append((await client.post("/orders", json={"n": n})).status_code)
        finally:
            await client.aclose()
    assert statuses == [200] * 20
    assert len(server.received) == 20, "each POST reached the server exactly once"


@pytest.mark.parametrize("hang_up", [CLOSE_UNANSWERED, RESET_UNANSWERED])
@pytest.mark.parametrize(
    ("method", "headers", "replayed"),
    [
        pytest.param("GET", {}, True, id="idempotent-method"),
        pytest.param("PUT", {}, True, id="put"),
        pytest.param("POST", {"Idempotency-Key": "order-7"}, True, id="post-with-key"),
        pytest.param("POST", {}, False, id="post-without-key"),
    ],
)
async def test_a_request_lost_on_a_reused_connection_is_replayed_only_when_harmless(
    method: str, headers: dict[str, str], replayed: bool, hang_up: str
) -> None:
    """The first request on a connection is answered; the second is read, then dropped."""
    server = ScriptedServer(lambda _connection, served: ANSWER if served == 1 else hang_up)
    async with server as url:
        client = _client(url)
        try:
            assert (await client.get("/warm-up")).status_code == 200
            if replayed:
                response = await client.request(method, "/orders", json={}, headers=headers)
                assert response.status_code == 200
            else:
                with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                    await client.request(method, "/orders", json={}, headers=headers)
        finally:
            await client.aclose()
    sent = [entry for entry in server.received if entry[1] == "/orders"]
    # The server did read the lost request: only a harmless one may arrive twice.
    assert len(sent) == (2 if replayed else 1), server.received
    if replayed:
        assert sent[0][2] != sent[1][2], "the replay goes out on another connection"


async def test_a_write_dropped_on_a_fresh_connection_is_not_retried() -> None:
    """A server that hangs up on a new connection is failing, not idle: no replay."""
    server = ScriptedServer(lambda _connection, _served: CLOSE_UNANSWERED)
    async with server as url:
        client = _client(url)
        try:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post("/orders", json={}, headers={"Idempotency-Key": "k"})
        finally:
            await client.aclose()
    assert server.received == [("POST", "/orders", 1)]
