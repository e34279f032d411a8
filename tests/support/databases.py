"""Throw-away databases behind the repositories' port (``platform.sql``), on either engine."""

from __future__ import annotations

from pathlib import Path

from minishop.platform.sql import Database, open_database
from tests.support.postgres import ASYNC_URL, PostgresSchemas

_KEYS_COLUMNS = {
    "sqlite": "key VARCHAR(319) PRIMARY KEY, fingerprint VARCHAR(64) NOT NULL,"
    " status_code INTEGER, response_body BLOB, created_at DATETIME NOT NULL",
    "postgresql": "key VARCHAR(319) PRIMARY KEY, fingerprint VARCHAR(64) NOT NULL,"
    " status_code INTEGER, response_body BYTEA, created_at TIMESTAMPTZ NOT NULL",
}


async def scratch_database(
    kind: str, tmp_path: Path, postgres: PostgresSchemas, name: str = "scratch"
) -> Database:
    """An empty database: a SQLite file under ``tmp_path``, or a schema of its own."""
    if kind == "sqlite":
        database = open_database(f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}")
    else:
        schema = postgres.settings_for(name)["database_schema"]
        database = open_database(ASYNC_URL, schema=schema, pool_size=2)
        async with database.transaction() as connection:
            await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await database.open()
    return database


async def idempotency_keys_database(
    kind: str, tmp_path: Path, postgres: PostgresSchemas
) -> Database:
    """A database holding the ``idempotency_keys`` table, as every writing service has."""
    database = await scratch_database(kind, tmp_path, postgres, "keys")
    async with database.transaction() as connection:
        await connection.execute(f"CREATE TABLE idempotency_keys ({_KEYS_COLUMNS[kind]})")
    return database
