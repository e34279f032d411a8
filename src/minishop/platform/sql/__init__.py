"""The database port every repository is written against, and the one place that opens it.

Repositories speak SQL directly, through the drivers' own fast paths, instead of an ORM or
SQLAlchemy Core: a point SELECT through SQLAlchemy's async layer cost 0.9 ms of CPU on
SQLite and 0.7 ms on PostgreSQL, through this port 0.01 ms and 0.3 ms; a one-UPDATE
write transaction 0.9 ms against 0.04 ms and 0.7 ms (``bench/database_path.py``).
The port is small on purpose, the common part of what asyncpg offers and what SQLite
can do in-process:

- ``transaction()``: a write transaction, committed when the block ends and rolled back
  when it raises, so nothing is half written;
- ``connection()``: reads, each statement on its own;
- on either, ``execute`` (rows affected), ``executemany``, ``fetch``, ``fetchrow`` and
  ``fetchval``, with PostgreSQL's ``$1, $2`` placeholders on both databases.

Errors come out as the three kinds the services act on: :class:`UniqueViolation` (a
duplicate key: idempotency and "already exists" decisions), :class:`DatabaseUnavailable`
(the database cannot answer now: a retryable 503) and :class:`DatabaseError` (anything
else). Every statement is a client span with the stable database semantic conventions
(``observability.database``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from minishop.observability.database import StatementSpans


class DatabaseError(Exception):
    """A statement failed. ``driver_error`` is the driver's own exception."""

    def __init__(self, message: str, driver_error: BaseException | None = None) -> None:
        super().__init__(message)
        self.driver_error = driver_error


class DatabaseUnavailable(DatabaseError):
    """The database cannot answer now (unreachable, gone, locked too long): retry later."""


class UniqueViolation(DatabaseError):
    """A row with the same key exists already."""


class Row(Protocol):
    """A result row: by column name (``row["id"]``) or by position (``row[0]``)."""

    def __getitem__(self, key: str | int) -> Any: ...


class Connection(Protocol):
    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row, or None when there is no row."""
        ...


class Database(Protocol):
    system: str
    """``sqlite`` or ``postgresql`` (``db.system.name``)."""
    namespace: str
    """The database's name (``db.namespace``): the SQLite file's stem, or PostgreSQL's."""

    def trace_with(self, spans: StatementSpans | None) -> None:
        """Make every statement from now on a span (None: no spans)."""
        ...

    def transaction(self) -> Any:
        """``async with db.transaction() as connection``: all of it, or nothing."""
        ...

    def connection(self) -> Any:
        """``async with db.connection() as connection``: reads, each statement on its own."""
        ...

    async def open(self) -> None:
        """Connect (PostgreSQL: the pool) before the first request."""
        ...

    async def ping(self) -> None:
        """A round trip: the readiness check."""
        ...

    async def close(self) -> None: ...

    def connections_in_use(self) -> float: ...

    def connections_max(self) -> float: ...


def placeholders(count: int, first: int = 1) -> str:
    """``$1, $2, ...`` for an ``IN (...)`` list of ``count`` values starting at ``$first``."""
    return ", ".join(f"${number}" for number in range(first, first + count))


def open_database(
    url: str,
    *,
    schema: str | None = None,
    pool_size: int = 10,
    spans: StatementSpans | None = None,
) -> Database:
    """The database ``url`` names (``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://``,
    the settings' forms), not yet connected; each driver is imported only when used."""
    scheme, _, rest = url.partition("://")
    if scheme.startswith("sqlite"):
        from minishop.platform.sql.sqlite import SqliteDatabase

        return SqliteDatabase(rest.removeprefix("/") or ":memory:", spans=spans)
    if scheme.startswith("postgresql"):
        from minishop.platform.sql.postgres import PostgresDatabase

        return PostgresDatabase(
            f"postgresql://{rest}", schema=schema, pool_size=pool_size, spans=spans
        )
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use postgresql:// or sqlite://")


__all__ = [
    "Connection",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "Row",
    "UniqueViolation",
    "open_database",
    "placeholders",
]
