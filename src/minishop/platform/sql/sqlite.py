"""The embedded SQLite database, called on the event loop itself.

Why not a thread per call (aiosqlite): every call then hops to a thread and back, which
costs far more CPU than the statement: a point SELECT 0.2 ms of CPU through aiosqlite,
0.01 ms called inline; a write transaction 0.46 ms against 0.04 ms
(``bench/database_path.py``). Called inline, a statement holds the event loop for as long
as SQLite works on it, tens of microseconds for the service's indexed statements, and
never while it waits for another process:

- WAL journal: readers never wait for the writer, nor the writer for readers;
- ``busy_timeout`` is 0, so SQLite never sleeps on the loop; a write transaction starts
  with ``BEGIN IMMEDIATE`` (the write lock, taken at once or refused at once), and when
  another process holds it (a tool, a test) the transaction waits on the loop with
  ``asyncio.sleep`` and tries again, up to ``LOCK_WAIT_SECONDS``;
- ``synchronous=NORMAL``: a commit does not wait for the disk (WAL stays consistent
  after a crash; the last commits before a power cut may be lost, never half of one).

One connection per process: an ``asyncio.Lock`` gives it to one transaction at a time.
Statements inside a transaction run without yielding, so in practice the lock is never
contended; it keeps a transaction whole should one ever await something else.

Values: ``$1`` placeholders are rewritten to SQLite's ``?1`` once per statement;
datetimes are stored as UTC text in the format the schema's first version used
(``YYYY-MM-DD HH:MM:SS.ffffff``) and read back as aware UTC datetimes, booleans read back
as ``bool`` (columns declared DATETIME and BOOLEAN).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from minishop.observability.database import StatementSpans
from minishop.platform.sql import DatabaseError, DatabaseUnavailable, UniqueViolation

LOCK_WAIT_SECONDS = 30.0
"""How long a write transaction waits for another process's write lock before a 503."""
_FIRST_RETRY_SECONDS = 0.001
_LONGEST_RETRY_SECONDS = 0.05
_PLACEHOLDER = re.compile(r"\$(\d+)")
_STORED = "%Y-%m-%d %H:%M:%S.%f"


def _store_datetime(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(_STORED)


def _read_datetime(stored: bytes) -> datetime:
    return datetime.fromisoformat(stored.decode()).replace(tzinfo=UTC)


def _values(args: Sequence[Any]) -> Sequence[Any]:
    """Datetimes as stored text; everything else as it is (no process-wide adapter, so
    other users of sqlite3 in the process keep the driver's defaults)."""
    for value in args:
        if isinstance(value, datetime):
            return [_store_datetime(item) if isinstance(item, datetime) else item for item in args]
    return args


# Converters apply only to connections opened with detect_types, i.e. these.
sqlite3.register_converter("DATETIME", _read_datetime)
sqlite3.register_converter("BOOLEAN", lambda stored: stored not in (b"0", b""))


def _translate(error: sqlite3.Error) -> DatabaseError:
    message = str(error)
    if isinstance(error, sqlite3.IntegrityError) and (
        "UNIQUE" in message.upper() or "PRIMARY KEY" in message.upper()
    ):
        return UniqueViolation(message, error)
    if isinstance(error, sqlite3.OperationalError):
        return DatabaseUnavailable(message, error)
    return DatabaseError(message, error)


class SqliteConnection:
    """Statements on the shared connection, each a span."""

    __slots__ = ("_connection", "_spans", "_sql")

    def __init__(
        self, connection: sqlite3.Connection, spans: StatementSpans | None, sql: dict[str, str]
    ) -> None:
        self._connection = connection
        self._spans = spans
        self._sql = sql

    def _run(self, statement: str, args: Sequence[Any], many: bool = False) -> sqlite3.Cursor:
        sql = self._sql.get(statement)
        if sql is None:
            sql = self._sql[statement] = _PLACEHOLDER.sub(r"?\1", statement)
        span = self._spans.start(sql) if self._spans is not None else None
        try:
            # Through a cursor, not the connection's execute shortcut: what DB-API
            # instrumentation wraps (the zero-code variant's sqlite3 instrumentor).
            cursor = self._connection.cursor()
            if many:
                cursor.executemany(sql, [_values(row) for row in args])
            else:
                cursor.execute(sql, _values(args))
        except sqlite3.Error as error:
            StatementSpans.failed(span, error)
            raise _translate(error) from error
        if span is not None:
            span.end()
        return cursor

    async def execute(self, sql: str, *args: Any) -> int:
        return self._run(sql, args).rowcount

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        self._run(sql, list(args), many=True)

    async def fetch(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self._run(sql, args).fetchall()

    async def fetchrow(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self._run(sql, args).fetchone()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = self._run(sql, args).fetchone()
        return None if row is None else row[0]


class _Transaction:
    """``async with``: BEGIN IMMEDIATE (waiting on the loop for the lock), COMMIT or ROLLBACK."""

    __slots__ = ("_connection", "_database")

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    async def __aenter__(self) -> SqliteConnection:
        database = self._database
        await database.lock.acquire()
        try:
            connection = database.raw()
            await _begin_immediate(connection)
        except BaseException:
            database.lock.release()
            raise
        self._connection = connection
        return database.statements(connection)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                try:
                    self._connection.execute("COMMIT")
                except sqlite3.Error as error:
                    if self._connection.in_transaction:
                        self._connection.execute("ROLLBACK")
                    raise _translate(error) from error
            elif self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
        finally:
            self._database.lock.release()


class _Reads:
    __slots__ = ("_database",)

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    async def __aenter__(self) -> SqliteConnection:
        await self._database.lock.acquire()
        try:
            return self._database.statements(self._database.raw())
        except BaseException:
            self._database.lock.release()
            raise

    async def __aexit__(self, *_exc: object) -> None:
        self._database.lock.release()


async def _begin_immediate(connection: sqlite3.Connection) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + LOCK_WAIT_SECONDS
    pause = _FIRST_RETRY_SECONDS
    while True:
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise _translate(error) from error
            if loop.time() >= give_up:
                raise DatabaseUnavailable(
                    f"the database stayed locked by another process for {LOCK_WAIT_SECONDS:.0f} s",
                    error,
                ) from error
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_RETRY_SECONDS)


class SqliteDatabase:
    """One service's SQLite file (``path``; ``:memory:`` for a throwaway one)."""

    system = "sqlite"

    def __init__(self, path: str, *, spans: StatementSpans | None = None) -> None:
        self.path = path
        self.namespace = Path(path).stem if path != ":memory:" else "memory"
        self._spans = spans
        self._connection: sqlite3.Connection | None = None
        self._sql: dict[str, str] = {}
        self.lock = asyncio.Lock()

    def trace_with(self, spans: StatementSpans | None) -> None:
        self._spans = spans

    def raw(self) -> sqlite3.Connection:
        """The connection, opened (and tuned) on first use."""
        if self._connection is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            try:
                connection = sqlite3.connect(
                    self.path,
                    isolation_level=None,  # transactions are ours: BEGIN IMMEDIATE / COMMIT
                    detect_types=sqlite3.PARSE_DECLTYPES,
                    cached_statements=512,
                )
                connection.row_factory = sqlite3.Row
                connection.execute("PRAGMA busy_timeout=0")
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as error:
                raise _translate(error) from error
            self._connection = connection
        return self._connection

    def statements(self, connection: sqlite3.Connection) -> SqliteConnection:
        return SqliteConnection(connection, self._spans, self._sql)

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def connection(self) -> _Reads:
        return _Reads(self)

    async def open(self) -> None:
        self.raw()

    async def ping(self) -> None:
        async with self.connection() as connection:
            await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def connections_in_use(self) -> float:
        return 1.0 if self.lock.locked() else 0.0

    def connections_max(self) -> float:
        return 1.0
