"""One pure ASGI middleware for the three pillars of every request.

A single middleware opens the server span, counts and times the request and
writes the access line. Measured against the alternatives in shared PERF-NOTES:
Starlette's ``BaseHTTPMiddleware`` alone costs more than all of this, and the
contrib ASGI instrumentation makes four spans per request where one is enough.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minishop.observability.baggage import is_synthetic
from minishop.observability.logging import mark_logged
from minishop.observability.scrubbing import scrub_text
from minishop.observability.telemetry import Telemetry

UNMATCHED_ROUTE = "unmatched"
DEFAULT_EXCLUDED_PATHS = ("/metrics", "/health/live", "/health/ready")
_ERROR_REASON_KEY = "error_reason"
_PROBLEM_KEY = "problem"
_EXCEPTION_KEY = "unexpected_exception"


class _AsgiHeaders(Getter[list[tuple[bytes, bytes]]]):
    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = key.encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_GETTER = _AsgiHeaders()
_BAGGAGE = W3CBaggagePropagator()


def _synthetic_untraced(headers: list[tuple[bytes, bytes]]) -> bool:
    """Without tracing no context is extracted: read the baggage header alone, if any."""
    if not any(name == b"baggage" for name, _ in headers):
        return False
    return is_synthetic(_BAGGAGE.extract(headers, getter=_GETTER))


def mark_failure(request: Request, reason: str) -> None:
    """Record why a request failed as a business outcome (e.g. ``card_declined``).

    The middleware counts such requests in ``error_total`` with this reason even
    though they are not server errors.
    """
    request.scope.setdefault("state", {})[_ERROR_REASON_KEY] = reason


def _traceresponse(span: trace.Span) -> tuple[bytes, bytes] | None:
    """W3C ``traceresponse`` (Trace Context Level 2): tells the caller which trace to look up."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    value = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    return (b"traceresponse", value.encode("latin-1"))


def note_problem(request: Request, problem_type: str, detail: str) -> None:
    """Put the reason a request was refused on its access log line."""
    state = request.scope.setdefault("state", {})
    state[_PROBLEM_KEY] = (problem_type, detail)


def note_exception(scope: Scope, error: BaseException) -> None:
    """Hand an exception already answered with a 500 to the access line, span and metrics.

    The layer that turns an unexpected exception into a 500 response does not re-raise
    it (a re-raise makes uvicorn close the connection and log it a second time), so it
    leaves the exception here instead.
    """
    scope.setdefault("state", {})[_EXCEPTION_KEY] = error


def _failure_reason(scope: Scope, status: int) -> str | None:
    reason = scope.get("state", {}).get(_ERROR_REASON_KEY)
    if reason:
        return str(reason)
    if status >= 500 or status == 402:  # a 402 is a failed payment even without its reason
        return f"http_{status}"
    return None


class ObservabilityMiddleware:
    """Server span, RED metrics with exemplars, and one access log line per request."""

    def __init__(
        self,
        app: ASGIApp,
        telemetry: Telemetry,
        excluded_paths: Iterable[str] = DEFAULT_EXCLUDED_PATHS,
    ) -> None:
        self.app = app
        self._telemetry = telemetry
        self._tracer = telemetry.tracer
        self._metrics = telemetry.metrics
        self._service = telemetry.service
        self._log = telemetry.logger
        self._excluded = frozenset(excluded_paths)
        # In zero-code mode the contrib ASGI middleware, outside this one, owns the server
        # span: this one only counts and logs, reading the trace id from the current span.
        self._tracing = telemetry.own_spans and not isinstance(telemetry.tracer, trace.NoOpTracer)
        # Label children by (method, route, status): prometheus_client's labels() costs more
        # than the increment itself, and the label sets are bounded by design.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._excluded:
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        method: str = scope["method"]
        if self._tracing:
            parent = propagate.extract(scope["headers"], getter=_GETTER)
            span = self._tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            synthetic = is_synthetic(parent)
        else:
            span, token = trace.INVALID_SPAN, None
            synthetic = _synthetic_untraced(scope["headers"])
        # The span whose trace the exemplars carry: ours, or whichever made the current one.
        exemplar_span = span if token is not None else trace.get_current_span()
        status = 500
        metrics = self._metrics
        metrics.in_flight.inc()

        trace_header = _traceresponse(span)

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if trace_header is not None:
                    message["headers"] = [*message.get("headers", ()), trace_header]
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_status)
            failure = scope.get("state", {}).get(_EXCEPTION_KEY)
        except BaseException as exc:
            failure = exc
            status = 500
            raise
        finally:
            duration = time.perf_counter() - started
            metrics.in_flight.dec()
            route_object = scope.get("route")
            route = getattr(route_object, "path", None) or UNMATCHED_ROUTE
            reason = _failure_reason(scope, status)
            self._record_metrics(exemplar_span, method, route, status, reason, duration)
            if synthetic:
                metrics.synthetic_requests.inc()
            self._finish_span(span, method, route, status, reason, failure)
            self._log_access(scope, method, route, status, reason, duration, failure)
            if token is not None:
                otel_context.detach(token)
                span.end()

    def _record_metrics(
        self,
        span: trace.Span,
        method: str,
        route: str,
        status: int,
        reason: str | None,
        duration: float,
    ) -> None:
        span_context = span.get_span_context()
        exemplar = (
            {"trace_id": format(span_context.trace_id, "032x")}
            if span_context.trace_flags.sampled
            else None
        )
        metrics = self._metrics
        status_text = str(status)
        key = (method, route, status_text)
        series = self._series.get(key)
        if series is None:
            series = (
                metrics.requests.labels(self._service, method, route, status_text),
                metrics.duration.labels(self._service, method, route),
            )
            self._series[key] = series
        requests, latency = series
        if exemplar is None:
            requests.inc()
            latency.observe(duration)
        else:
            requests.inc(exemplar=exemplar)
            latency.observe(duration, exemplar=exemplar)
        if reason is not None:
            metrics.errors.labels(self._service, method, route, status_text, reason).inc(
                exemplar=exemplar
            )

    @staticmethod
    def _finish_span(
        span: trace.Span,
        method: str,
        route: str,
        status: int,
        reason: str | None,
        failure: BaseException | None,
    ) -> None:
        if not span.is_recording():
            return
        span.update_name(f"{method} {route}")
        span.set_attributes(  # one call takes the attribute lock once
            {
                "http.request.method": method,
                "http.route": route,
                "http.response.status_code": status,
            }
        )
        if reason is not None:
            # Why it failed, as error_total's reason: a declined payment (402) is a failure the
            # span must show even though the HTTP conventions keep a 4xx's status unset.
            span.set_attribute("error.type", reason)
        if failure is not None:
            # The SDK would record str(failure) and its traceback as they are: a failed
            # write's text carries the row's values, so the span gets the scrubbed ones.
            span.record_exception(
                failure,
                attributes={
                    "exception.message": scrub_text(str(failure)),
                    "exception.stacktrace": scrub_text(
                        "".join(traceback.format_exception(failure))
                    ),
                },
            )
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, reason))

    def _log_access(
        self,
        scope: Scope,
        method: str,
        route: str,
        status: int,
        reason: str | None,
        duration: float,
        failure: BaseException | None,
    ) -> None:
        if failure is None and reason is None and not self._log.is_enabled_for(logging.INFO):
            return
        client = scope.get("client")
        problem = scope.get("state", {}).get(_PROBLEM_KEY)
        fields = {
            "method": method,
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "client": f"{client[0]}:{client[1]}" if client else None,
        }
        if problem is not None:
            fields["problem_type"], fields["detail"] = problem
        message = f"{method} {scope['path']} {status}"
        if failure is not None:
            # The one line for this failure: the request's context, the reason and the
            # (scrubbed) exception; marked so no other logger reports it again.
            self._log.error(
                message,
                reason=reason,
                error_type=type(failure).__qualname__,
                exc_info=failure,
                **fields,
            )
            mark_logged(failure)
        elif reason is not None:
            self._log.warning(message, reason=reason, **fields)
        else:
            self._log.info(message, **fields)
