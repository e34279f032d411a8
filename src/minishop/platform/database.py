"""Async engines for SQLite (embedded default) and PostgreSQL, tuned for each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine whose transactions behave the same on both databases.

    SQLite's default deferred transactions fail with "database is locked" when two
    readers both try to write; ``BEGIN IMMEDIATE`` takes the write lock up front so
    concurrent writers queue on ``busy_timeout`` instead, which is what makes the
    conditional stock update safe under load on the embedded database too.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _use_immediate_transactions(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _use_immediate_transactions(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below own BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


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
