"""The console store's SQLite schema, and how a connection is set up to use it.

Spans are stored once, with two indexes (trace lookup, time); everything a trace search
filters on is kept small beside them:

- ``traces``: one row per trace, upserted as its spans arrive (start, end, span count,
  error flag, root span, services), so a search reads one row per trace instead of
  aggregating spans;
- ``trace_terms``: for each trace, 64-bit hashes of what it can be searched by (a service,
  an operation, an attribute ``key=value``), once per trace, so "traces with order.id=42"
  is an index lookup rather than a scan of every span's attributes. Hashes keep the table
  about 20 bytes a row whatever the keys and values;
- ``operations``: the (service, span name) pairs seen, for the pickers, without a DISTINCT
  over a million spans.

The ``logs`` table is shared with the LogQL compiler (``log_sql.py``): its columns are fixed.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

TABLES = ("spans", "traces", "trace_terms", "operations", "logs")

SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
  id INTEGER PRIMARY KEY,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT NOT NULL,
  service TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  status TEXT NOT NULL,
  status_message TEXT NOT NULL,
  attributes TEXT NOT NULL,
  events TEXT NOT NULL,
  resource TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_start ON spans(start_ns);

CREATE TABLE IF NOT EXISTS traces (
  id INTEGER PRIMARY KEY,
  trace_id TEXT NOT NULL UNIQUE,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  span_count INTEGER NOT NULL,
  error INTEGER NOT NULL,
  root_service TEXT NOT NULL,
  root_name TEXT NOT NULL,
  root_start_ns INTEGER NOT NULL,
  has_root INTEGER NOT NULL,
  services TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_start ON traces(start_ns);

CREATE TABLE IF NOT EXISTS trace_terms (
  term INTEGER NOT NULL,
  trace_ref INTEGER NOT NULL,
  PRIMARY KEY (term, trace_ref)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_terms_trace ON trace_terms(trace_ref);

CREATE TABLE IF NOT EXISTS operations (
  service TEXT NOT NULL,
  name TEXT NOT NULL,
  last_seen_ns INTEGER NOT NULL,
  PRIMARY KEY (service, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY,
  timestamp_ns INTEGER NOT NULL,
  service TEXT NOT NULL,
  level TEXT NOT NULL,
  message TEXT NOT NULL,
  trace_id TEXT NOT NULL DEFAULT '',
  span_id TEXT NOT NULL DEFAULT '',
  attributes TEXT NOT NULL DEFAULT '{}',
  resource TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS logs_timestamp ON logs(timestamp_ns);
CREATE INDEX IF NOT EXISTS logs_trace ON logs(trace_id) WHERE trace_id != '';
CREATE INDEX IF NOT EXISTS logs_service ON logs(service, timestamp_ns);
"""


def connect(path: str, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread.

    ``check_same_thread`` is off because the store, not sqlite3, decides who uses which
    connection: the writer's is used under a lock, a reader's by the one thread it was made for
    (and closed by ``close()`` from another).
    """
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA temp_store=MEMORY")
    # 8 MB a connection (the writer and one reader per thread): the indexes searched stay
    # hot; more only grows the console past its memory budget.
    connection.execute("PRAGMA cache_size=-8000")
    if readonly:
        connection.execute("PRAGMA query_only=1")
    _register_log_functions(connection)
    return connection


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables; a file from another schema version is emptied (it is only a cache)."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        for table in TABLES:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.executescript(SCHEMA)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _register_log_functions(connection: sqlite3.Connection) -> None:
    """The SQL functions the LogQL compiler's expressions call (``regexp``)."""
    # Imported here, not at the top: the compiler is its own module and only this needs it.
    from minishop.console.adapters import log_sql

    log_sql.register_log_functions(connection)
