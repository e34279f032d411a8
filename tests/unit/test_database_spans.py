"""One client span per SQL statement, under the caller's span, with the error when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from minishop.observability.database import trace_engine
from minishop.platform.database import create_engine


async def test_statements_are_client_spans_under_the_callers_span(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}")
    trace_engine(engine, provider)
    try:
        with provider.get_tracer("test").start_as_current_span("request") as parent:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
                await connection.execute(text("select id from t where id = :id"), {"id": 1})
                with pytest.raises(OperationalError):
                    await connection.execute(text("SELECT id FROM missing"))
        with suppress_instrumentation():
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()

    spans = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.CLIENT]
    assert [span.name for span in spans] == ["CREATE orders", "SELECT orders", "SELECT orders"]
    _create, select, failed = spans
    assert all(span.parent.span_id == parent.get_span_context().span_id for span in spans)
    assert select.attributes["db.system.name"] == "sqlite"
    assert select.attributes["db.namespace"] == "orders"
    assert select.attributes["db.operation.name"] == "SELECT"
    assert select.attributes["db.query.text"] == "select id from t where id = ?"
    assert select.status.status_code == StatusCode.UNSET
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "OperationalError"
    assert "missing" in failed.status.description


def test_no_provider_means_no_listener(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    trace_engine(engine, None)
    assert len(engine.sync_engine.dispatch.before_cursor_execute) == 0
    trace_engine(engine, TracerProvider())
    assert len(engine.sync_engine.dispatch.before_cursor_execute) == 1
