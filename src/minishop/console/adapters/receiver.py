"""The OTLP/HTTP receiver: ``POST /v1/traces`` and ``POST /v1/logs`` on their own port.

Answers follow the OTLP/HTTP specification, so the SDK exporters behave as with a collector:
200 with an empty ``Export*ServiceResponse`` in the request's encoding; 400 with a
``google.rpc.Status`` for a body that does not decode (not retried); 413 for too large a
body, checked on ``Content-Length`` first and again while reading and inflating; 415 for
another content type; 429 (queue full) and 503 (store failing) with ``Retry-After``, which
exporters retry. The handler decodes and queues; the ingest's writer thread does the writing,
so the answer never waits for SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from minishop.console.adapters.otlp_decoding import (
    JSON,
    PROTOBUF,
    OtlpDecodeError,
    PayloadTooLarge,
    UnsupportedMediaType,
    decode_logs,
    decode_traces,
    encoding_of,
    inflate,
)
from minishop.console.application.ingest import LOGS, SPANS, Ingest, Offer

QUEUE_FULL_RETRY_SECONDS = 2
INLINE_DECODE_BYTES = 256 * 1024  # larger bodies are decoded off the event loop
ABOUT = "MiniShop console: OTLP/HTTP receiver (POST /v1/traces, POST /v1/logs).\n"


class ReceiverMetrics(Protocol):
    def rejected(self, signal: str, items: int) -> None: ...

    def request(self, signal: str, status: int) -> None: ...


class _Endpoint:
    """One signal's route: read, inflate, decode, offer, answer."""

    def __init__(
        self,
        signal: str,
        decode: Callable[[bytes, str], list],
        offer: Callable[[list], Offer],
        response: Callable[[], Message],
        ingest: Ingest,
        max_body_bytes: int,
        metrics: ReceiverMetrics,
    ) -> None:
        self.signal = signal
        self.decode = decode
        self.offer = offer
        self.response = response
        self.ingest = ingest
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def handle(self, request: Request) -> Response:
        response = await self._handle(request)
        self.metrics.request(self.signal, response.status_code)
        return response

    async def _handle(self, request: Request) -> Response:
        try:
            encoding = encoding_of(request.headers.get("content-type"))
        except UnsupportedMediaType as error:
            return PlainTextResponse(str(error), status_code=415)
        try:
            body = await self._read(request)
            if self.ingest.queued_items >= self.ingest.max_items:
                # Full already: refuse before inflating or decoding, so a flood costs the
                # console little and what it has accepted gets written. The body is read all
                # the same: a client cut off mid-send sees a broken connection, not the 429.
                # Its items go uncounted; the request is, in console_otlp_requests_total.
                return _queue_full(encoding)
            if len(body) > INLINE_DECODE_BYTES or request.headers.get("content-encoding"):
                items = await run_in_threadpool(self._decode, body, request, encoding)
            else:
                items = self._decode(body, request, encoding)
        except UnsupportedMediaType as error:
            return PlainTextResponse(str(error), status_code=415)
        except PayloadTooLarge as error:
            return _status(413, code_pb2.RESOURCE_EXHAUSTED, str(error), encoding)
        except OtlpDecodeError as error:
            return _status(400, code_pb2.INVALID_ARGUMENT, str(error), encoding)
        except ClientDisconnect:
            return PlainTextResponse("The client went away.", status_code=400)
        outcome = self.offer(items)
        if outcome is Offer.QUEUE_FULL:
            self.metrics.rejected(self.signal, len(items))
            return _queue_full(encoding)
        if outcome is Offer.UNAVAILABLE:
            self.metrics.rejected(self.signal, len(items))
            return _status(
                503,
                code_pb2.UNAVAILABLE,
                "The console's store is not accepting data right now: retry later.",
                encoding,
                retry_after=max(1, round(self.ingest.failure_backoff_seconds)),
            )
        return _message_response(200, self.response(), encoding)

    def _decode(self, body: bytes, request: Request, encoding: str) -> list:
        raw = inflate(body, request.headers.get("content-encoding"), self.max_body_bytes)
        return self.decode(raw, encoding)

    async def _read(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                raise OtlpDecodeError("Content-Length is not a number.") from None
            if length > self.max_body_bytes:
                raise PayloadTooLarge(f"The body is larger than {self.max_body_bytes} bytes.")
        parts: list[bytes] = []
        size = 0
        async for part in request.stream():
            size += len(part)
            if size > self.max_body_bytes:
                raise PayloadTooLarge(f"The body is larger than {self.max_body_bytes} bytes.")
            parts.append(part)
        return b"".join(parts)


def _message_response(
    status: int, message: Message, encoding: str, headers: dict[str, str] | None = None
) -> Response:
    if encoding == JSON:
        body = json_format.MessageToJson(message, indent=None).encode()
    else:
        body = message.SerializeToString()
    return Response(body, status_code=status, media_type=encoding, headers=headers)


def _status(
    http_status: int, code: int, message: str, encoding: str, retry_after: int | None = None
) -> Response:
    """A ``google.rpc.Status`` body, as the OTLP/HTTP specification answers failures."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _message_response(
        http_status, status_pb2.Status(code=code, message=message), encoding, headers
    )


def _queue_full(encoding: str) -> Response:
    return _status(
        429,
        code_pb2.UNAVAILABLE,
        "The console's write queue is full: retry later.",
        encoding,
        retry_after=QUEUE_FULL_RETRY_SECONDS,
    )


async def _about(_request: Request) -> Response:
    return PlainTextResponse(ABOUT)


def build_receiver_app(
    ingest: Ingest, *, max_body_bytes: int, metrics: ReceiverMetrics
) -> Starlette:
    """The receiver as an ASGI app; the caller serves it on the OTLP port."""
    traces = _Endpoint(
        SPANS,
        decode_traces,
        ingest.offer_spans,
        ExportTraceServiceResponse,
        ingest,
        max_body_bytes,
        metrics,
    )
    logs = _Endpoint(
        LOGS,
        decode_logs,
        ingest.offer_logs,
        ExportLogsServiceResponse,
        ingest,
        max_body_bytes,
        metrics,
    )
    return Starlette(
        routes=[
            Route("/", _about, methods=["GET"]),
            Route("/v1/traces", traces.handle, methods=["POST"]),
            Route("/v1/logs", logs.handle, methods=["POST"]),
        ]
    )


__all__ = ["PROTOBUF", "ReceiverMetrics", "build_receiver_app"]
