"""Async engines for SQLite (embedded default) and PostgreSQL, tuned for each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, *, pool_size: int = 10, schema: str | None = None) -> AsyncEngine:
    """An engine tuned for its database.

    SQLite gets WAL and a single pooled connection, so concurrent requests queue
    for it instead of failing with "database is locked". Write transactions in the
    services still start with their INSERT or conditional UPDATE, which keeps them
    safe should the pool ever hold more than one connection (a reader upgrading to
    a writer cannot wait for the lock, it fails).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per service: SQLite has one writer at a time anyway, and queueing
        # for the pool happens on the event loop, where SQLite's own busy handler would
        # sleep a thread in growing steps (seconds of p99 under load, measured).
        engine = create_async_engine(
            url,
            hide_parameters=True,  # see below
            connect_args={"timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            pool_reset_on_return=None,  # see below
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    connect_args = {"server_settings": {"search_path": schema}} if schema else {}
    return create_async_engine(
        url,
        hide_parameters=True,  # see below
        connect_args=connect_args,
        pool_reset_on_return=None,  # see below
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


# hide_parameters=True: a failed statement's exception text would carry its values
# (e-mail addresses, names) as "[parameters: ...]", and that text reaches logs and
# spans. The statement itself stays, with placeholders only.

# pool_reset_on_return=None: closing a SQLAlchemy 2 Connection already ends its
# transaction, so the pool's own reset would be a second ROLLBACK round trip per
# checkout (measured as a sizeable share of a point query's cost on aiosqlite).


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def ensure_schema(engine: AsyncEngine, schema: str | None) -> None:
    """Create the service's PostgreSQL schema before its migrations run in it."""
    if not schema or is_sqlite(engine):
        return
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


async def ping(engine: AsyncEngine) -> None:
    """Readiness check: a round trip to the database."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def pool_in_use(engine: AsyncEngine) -> float:
    """Connections checked out of the pool right now (a saturation signal)."""
    pool = engine.sync_engine.pool
    checked_out = getattr(pool, "checkedout", None)
    return float(checked_out()) if callable(checked_out) else 0.0


def pool_capacity(engine: AsyncEngine) -> float:
    pool = engine.sync_engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    return float(size() + max(overflow, 0)) if callable(size) else 0.0
