"""Database client spans for a SQLAlchemy engine: one span per SQL statement.

Written here rather than taken from the contrib SQLAlchemy instrumentation: that one
re-derives the engine's URL attributes and the database name for every statement and
is a process-wide singleton, while here what does not change is computed once per
engine, and each service's engine reports to its own provider. A traced statement
costs the span itself (~30 µs: start, attributes, end). Attributes follow the stable
database semantic conventions (``db.system.name``, ``db.query.text``, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from minishop.observability.scrubbing import scrub_text

_SPAN = "_minishop_db_span"


def _static_attributes(engine: Engine) -> tuple[str, dict[str, Any]]:
    url = engine.url
    system = url.get_backend_name()
    if system == "sqlite":
        namespace = Path(url.database).stem if url.database else "memory"
    else:
        namespace = url.database or ""
    attributes: dict[str, Any] = {"db.system.name": system, "db.namespace": namespace}
    if url.host:
        attributes["server.address"] = url.host
        attributes["server.port"] = url.port or (5432 if system == "postgresql" else 0)
    return namespace, attributes


class StatementSpans:
    """Listens to one engine's cursor events and wraps each statement in a client span."""

    def __init__(self, tracer: trace.Tracer, engine: Engine) -> None:
        self._tracer = tracer
        self._namespace, self._attributes = _static_attributes(engine)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._failed)

    def _before(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is None or not is_instrumentation_enabled():
            return  # a health probe runs under suppress_instrumentation: no span
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = self._tracer.start_span(
            f"{operation} {self._namespace}",
            kind=SpanKind.CLIENT,
            attributes={
                **self._attributes,
                "db.operation.name": operation,
                "db.query.text": statement,
            },
        )
        setattr(context, _SPAN, span)

    @staticmethod
    def _after(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN, None)

    @staticmethod
    def _failed(failure: Any) -> None:
        context = failure.execution_context
        span = getattr(context, _SPAN, None) if context is not None else None
        if span is None:
            return
        error = failure.original_exception
        span.set_attribute("error.type", type(error).__qualname__)
        # The driver's text can echo the row's values (DETAIL:  Key (email)=(...)).
        span.set_status(Status(StatusCode.ERROR, scrub_text(str(error))[:300]))
        span.end()
        setattr(context, _SPAN, None)


def trace_engine(engine: AsyncEngine, tracer_provider: TracerProvider | None) -> None:
    """Spans for every statement of ``engine``, from the service's own provider."""
    if tracer_provider is None:
        return
    tracer = tracer_provider.get_tracer("minishop.database")
    StatementSpans(tracer, engine.sync_engine)
