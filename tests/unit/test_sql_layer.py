"""The database port's guarantees, on both drivers: whole transactions, values that round-trip,
and a SQLite lock held by another process never freezing the event loop."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minishop.platform.sql import DatabaseUnavailable, open_database
from minishop.platform.sql import sqlite as sqlite_adapter
from tests.support.databases import scratch_database
from tests.support.postgres import PostgresSchemas

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
TABLE = {
    "sqlite": "CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, ok BOOLEAN NOT NULL)",
    "postgresql": "CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMPTZ NOT NULL,"
    " ok BOOLEAN NOT NULL)",
}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_failed_transaction_leaves_nothing_and_values_round_trip(
    kind: str, tmp_path: Path, postgres: PostgresSchemas
) -> None:
    database = await scratch_database(kind, tmp_path, postgres)
    moment = datetime(2026, 11, 24, 12, 30, 1, 123456, tzinfo=UTC)
    try:
        async with database.transaction() as connection:
            await connection.execute(TABLE[kind])

        async def crash_half_way() -> None:
            async with database.transaction() as connection:
                await connection.execute("INSERT INTO t VALUES ($1, $2, $3)", 1, moment, True)
                raise RuntimeError("a crash half way")

        with pytest.raises(RuntimeError):
            await crash_half_way()
        async with database.transaction() as connection:
            assert await connection.fetchval("SELECT count(*) FROM t") == 0
            changed = await connection.execute(
                "INSERT INTO t VALUES ($1, $2, $3)", 2, moment.astimezone(), False
            )
        async with database.connection() as connection:
            row = await connection.fetchrow("SELECT id, at, ok FROM t WHERE at = $1", moment)
            earlier = await connection.fetch(
                "SELECT id FROM t WHERE at < $1", moment + timedelta(microseconds=1)
            )
        assert changed == 1
        assert row is not None and (row["id"], row["at"], row["ok"]) == (2, moment, False)
        assert row["at"].tzinfo is not None
        assert [found["id"] for found in earlier] == [2]
    finally:
        await database.close()


async def test_sqlite_waits_for_another_process_lock_without_freezing_the_loop(
    tmp_path: Path, postgres: PostgresSchemas
) -> None:
    database = await scratch_database("sqlite", tmp_path, postgres)
    async with database.transaction() as connection:
        await connection.execute(TABLE["sqlite"])
    other = sqlite3.connect(tmp_path / "scratch.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(ticking())

    async def write() -> None:
        async with database.transaction() as connection:
            await connection.execute(
                "INSERT INTO t VALUES ($1, $2, $3)", 1, datetime.now(UTC), True
            )

    writer = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writer.done()  # waiting for the lock...
    assert ticks >= 20  # ...while the loop kept running
    other.execute("COMMIT")
    await asyncio.wait_for(writer, 5)
    ticker.cancel()
    other.close()
    async with database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM t") == 1
    await database.close()


async def test_sqlite_gives_up_with_a_503_when_the_lock_is_never_free(
    tmp_path: Path, postgres: PostgresSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_adapter, "LOCK_WAIT_SECONDS", 0.2)
    database = await scratch_database("sqlite", tmp_path, postgres)
    other = sqlite3.connect(tmp_path / "scratch.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseUnavailable, match="locked"):
            async with database.transaction() as connection:
                await connection.execute("CREATE TABLE never (id INTEGER)")
    finally:
        other.execute("ROLLBACK")
        other.close()
        await database.close()


@pytest.mark.postgres
async def test_an_unreachable_postgresql_is_unavailable_not_a_crash() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = open_database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test")
    with pytest.raises(DatabaseUnavailable):
        await database.ping()
    await database.close()
