"""Trace context on every outgoing call, as an httpx transport.

Wrapping the transport (rather than patching httpx globally) keeps the client an
explicit adapter: the same client works over the network, or in-process through
``ASGITransport`` in tests, and still propagates ``traceparent``.
"""

from __future__ import annotations

import httpx
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode


class TracingTransport(httpx.AsyncBaseTransport):
    """Opens a CLIENT span per request and injects W3C trace context into its headers."""

    def __init__(self, wrapped: httpx.AsyncBaseTransport, tracer: trace.Tracer, peer: str) -> None:
        self._wrapped = wrapped
        self._tracer = tracer
        self._peer = peer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not is_instrumentation_enabled():
            return await self._wrapped.handle_async_request(request)
        with self._tracer.start_as_current_span(
            f"{request.method} {self._peer}",
            kind=SpanKind.CLIENT,
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            propagate.inject(request.headers)
            if span.is_recording():
                span.set_attribute("http.request.method", request.method)
                span.set_attribute("url.full", str(request.url))
                span.set_attribute("server.address", request.url.host)
                span.set_attribute("peer.service", self._peer)
            response = await self._wrapped.handle_async_request(request)
            if span.is_recording():
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            return response

    async def aclose(self) -> None:
        await self._wrapped.aclose()
