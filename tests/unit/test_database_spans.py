"""One client span per SQL statement, under the caller's span, with the error when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from minishop.observability.database import StatementSpans
from minishop.platform.sql import DatabaseUnavailable, UniqueViolation
from tests.support.databases import scratch_database
from tests.support.postgres import PostgresSchemas

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("kind", KINDS)
async def test_statements_are_client_spans_under_the_callers_span(
    kind: str, tmp_path: Path, postgres: PostgresSchemas
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    database = await scratch_database(kind, tmp_path, postgres, "orders")
    database.trace_with(
        StatementSpans(
            provider.get_tracer("test"),
            system=database.system,
            namespace="orders",
            server_address=getattr(database, "server_address", None),
            server_port=getattr(database, "server_port", None),
        )
    )
    try:
        with provider.get_tracer("test").start_as_current_span("request") as parent:
            async with database.transaction() as connection:
                await connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
                await connection.execute("insert into t (id) values ($1)", 1)
            async with database.connection() as connection:
                assert await connection.fetchval("select id from t where id = $1", 1) == 1
            with pytest.raises(UniqueViolation):
                async with database.transaction() as connection:
                    await connection.execute("INSERT INTO t (id) VALUES ($1)", 1)
            with pytest.raises(DatabaseUnavailable if kind == "sqlite" else Exception):
                async with database.connection() as connection:
                    await connection.fetch("SELECT id FROM missing")
        with suppress_instrumentation():
            async with database.connection() as connection:
                await connection.fetchval("SELECT 1")
    finally:
        await database.close()

    spans = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.CLIENT]
    assert [span.name for span in spans] == [
        "CREATE orders",
        "INSERT orders",
        "SELECT orders",
        "INSERT orders",
        "SELECT orders",
    ]
    _create, _insert, select, duplicate, failed = spans
    assert all(span.parent.span_id == parent.get_span_context().span_id for span in spans)
    assert select.attributes["db.system.name"] == kind
    assert select.attributes["db.namespace"] == "orders"
    assert select.attributes["db.operation.name"] == "SELECT"
    placeholder = "?1" if kind == "sqlite" else "$1"
    assert select.attributes["db.query.text"] == f"select id from t where id = {placeholder}"
    assert select.status.status_code == StatusCode.UNSET
    if kind == "postgresql":
        assert select.attributes["server.address"] == "127.0.0.1"
        assert select.attributes["server.port"] == 5432
    else:
        assert "server.address" not in select.attributes
    assert duplicate.status.status_code == StatusCode.ERROR
    assert duplicate.attributes["error.type"] in ("IntegrityError", "UniqueViolationError")
    assert failed.status.status_code == StatusCode.ERROR
    assert "missing" in failed.status.description


async def test_no_spans_without_a_tracer(tmp_path: Path, postgres: PostgresSchemas) -> None:
    """Tracing off (OTEL_SDK_DISABLED): statements run with no span machinery at all."""
    database = await scratch_database("sqlite", tmp_path, postgres)
    try:
        async with database.transaction() as connection:
            assert await connection.execute("CREATE TABLE t (id INTEGER)") in (0, -1)
            await connection.executemany("INSERT INTO t (id) VALUES ($1)", [(1,), (2,)])
        async with database.connection() as connection:
            assert [row["id"] for row in await connection.fetch("SELECT id FROM t")] == [1, 2]
    finally:
        await database.close()
