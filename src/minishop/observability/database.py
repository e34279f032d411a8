"""Database client spans: one span per SQL statement, with the stable semantic conventions.

The repositories' database layer (``platform.sql``) calls :meth:`StatementSpans.start`
before a statement and ends the span after it. What does not change between statements
(system, namespace, server) is computed once per database, and what depends only on the
statement's text (its operation, the span's name) once per distinct statement, so a
traced statement costs the span itself: start, attributes, end.

Attributes: ``db.system.name``, ``db.namespace``, ``db.operation.name``,
``db.query.text`` (placeholders only: values never reach a span), ``server.address`` and
``server.port`` for a networked database, ``error.type`` when the statement fails.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode

from minishop.observability.scrubbing import scrub_text

_CLIENT = SpanKind.CLIENT


class StatementSpans:
    """Makes the spans of one database's statements, from the service's tracer."""

    def __init__(
        self,
        tracer: trace.Tracer,
        *,
        system: str,
        namespace: str,
        server_address: str | None = None,
        server_port: int | None = None,
    ) -> None:
        self._tracer = tracer
        self._static: dict[str, Any] = {"db.system.name": system, "db.namespace": namespace}
        if server_address:
            self._static["server.address"] = server_address
            if server_port:
                self._static["server.port"] = server_port
        self._namespace = namespace
        self._known: dict[str, tuple[str, dict[str, Any]]] = {}

    def start(self, statement: str) -> trace.Span | None:
        """The statement's span, started under the current one; None while instrumentation
        is suppressed (health probes and background polls run that way)."""
        if not is_instrumentation_enabled():
            return None
        known = self._known.get(statement)
        if known is None:
            known = self._describe(statement)
        return self._tracer.start_span(known[0], kind=_CLIENT, attributes=known[1])

    def _describe(self, statement: str) -> tuple[str, dict[str, Any]]:
        words = statement.split(None, 1)
        operation = words[0].upper() if words else "SQL"
        known = (
            f"{operation} {self._namespace}",
            {**self._static, "db.operation.name": operation, "db.query.text": statement},
        )
        if len(self._known) < 1024:  # statements are a fixed set; a bound all the same
            self._known[statement] = known
        return known

    @staticmethod
    def failed(span: trace.Span | None, error: BaseException) -> None:
        """End ``span`` in ERROR with the driver's error, its values scrubbed (a driver's
        text can echo a row: ``DETAIL: Key (email)=(...)``)."""
        if span is None:
            return
        span.set_attribute("error.type", type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR, scrub_text(str(error))[:300]))
        span.end()
