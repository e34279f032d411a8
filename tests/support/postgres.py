"""Throw-away PostgreSQL schemas on the machine's server, one per service per test.

A schema per service in the shared ``test`` database keeps runs apart as well as
a database per service would, at a fraction of CREATE DATABASE's half-second.
"""

from __future__ import annotations

import os
import uuid

import asyncpg

ADMIN_DSN = os.environ.get("MINISHOP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
ASYNC_URL = "postgresql+asyncpg://" + ADMIN_DSN.split("://", 1)[1]


class PostgresSchemas:
    def __init__(self) -> None:
        self._created: list[str] = []

    def settings_for(self, service: str) -> dict[str, str]:
        """Settings that put ``service`` in a schema of its own (the service creates it)."""
        schema = f"t_{uuid.uuid4().hex[:12]}_{service}"
        self._created.append(schema)
        return {"database_url": ASYNC_URL, "database_schema": schema}

    async def drop_all(self) -> None:
        if not self._created:
            return
        connection = await asyncpg.connect(ADMIN_DSN)
        try:
            for schema in self._created:
                await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()
        self._created.clear()
