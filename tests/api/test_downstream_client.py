"""The client every service uses for its downstream calls, over real sockets.

In-process tests swap the network for an ASGI transport; these tests exercise the real
one, whose errors must reach the services as httpx errors (mapped to 502/503/504).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from minishop.platform.http import build_client

NEW_CONNECTION = b"<new connection>"


async def _serve(delay: float, seen: list[bytes]) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(NEW_CONNECTION)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                await asyncio.sleep(delay)
                payload = b'{"echo": ' + (body or b"null") + b"}"
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.fixture
def tracer() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[bytes]]]:
    seen: list[bytes] = []
    running = await _serve(0.0, seen)
    port = running.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", seen
    running.close()


async def test_a_call_carries_the_trace_and_reuses_its_connection(
    server: tuple[str, list[bytes]], tracer: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    url, seen = server
    provider, exporter = tracer
    client = build_client(url, peer="echo", tracer=provider.get_tracer("t"), timeout=5)
    try:
        first = await client.post("/things", json={"a": 1})
        second = await client.get("/things/1")
    finally:
        await client.aclose()
    assert first.status_code == 200 and first.json() == {"echo": {"a": 1}}
    assert second.json() == {"echo": None}
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    heads = [head for head in seen if head != NEW_CONNECTION]
    trace_id = format(spans[0].context.trace_id, "032x")
    assert f"traceparent: 00-{trace_id}-".encode() in heads[0].lower()
    assert spans[0].attributes["http.response.status_code"] == 200
    assert seen.count(NEW_CONNECTION) == 1, "the second call reuses the first connection"


async def test_a_closed_port_is_an_httpx_connect_error(
    tracer: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = build_client(
        f"http://127.0.0.1:{port}", peer="gone", tracer=tracer[0].get_tracer("t"), timeout=2
    )
    try:
        with pytest.raises(httpx.ConnectError):
            await client.get("/anything")
    finally:
        await client.aclose()


async def test_a_slow_answer_is_an_httpx_timeout(
    tracer: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    seen: list[bytes] = []
    slow = await _serve(2.0, seen)
    port = slow.sockets[0].getsockname()[1]
    client = build_client(
        f"http://127.0.0.1:{port}", peer="slow", tracer=tracer[0].get_tracer("t"), timeout=0.3
    )
    try:
        with pytest.raises(httpx.TimeoutException):
            await client.get("/slow")
    finally:
        await client.aclose()
        slow.close()
