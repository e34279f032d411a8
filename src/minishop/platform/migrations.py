"""Alembic migrations applied at service start, one migration history per service database.

The only part of a service that uses SQLAlchemy: Alembic needs it, the repositories do not
(``platform.sql``). It is imported when a service migrates, over a connection of its own
that is closed before the first request.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from minishop.platform.idempotency import MAX_KEY_LENGTH, TABLE


def _upgrade(connection: Connection, script_location: str) -> None:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_to_head(url: str, schema: str | None, migrations_dir: Path) -> None:
    """Bring the service's database (``url``, in its ``schema`` on PostgreSQL) to the newest
    schema before it takes traffic."""
    connect_args: dict[str, Any] = {}
    postgres = url.startswith("postgresql")
    if postgres and schema:
        connect_args = {"server_settings": {"search_path": schema}}
    elif not postgres:
        path = url.partition("://")[2].removeprefix("/")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args=connect_args, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            if postgres and schema:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await connection.run_sync(_upgrade, str(migrations_dir))
    finally:
        await engine.dispose()


def run_migrations(target_metadata: MetaData) -> None:
    """Body of every service's ``env.py``: migrate over the connection handed in by the service."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "MiniShop migrations run when a service starts: run `minishop serve NAME`"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def idempotency_table(metadata: MetaData) -> Table:
    """The columns of the ``idempotency_keys`` table that ``platform.idempotency`` queries."""
    return Table(
        TABLE,
        metadata,
        Column("key", String(MAX_KEY_LENGTH + 64), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("response_body", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


def create_idempotency_keys_table() -> None:
    """Create the ``idempotency_keys`` table every writing service keeps.

    The columns are declared once, in :func:`idempotency_table`, for the store
    (``platform.idempotency``) to query. A change to that declaration is a schema change:
    it needs a new migration in each service, since databases created before it keep the
    old table.
    """
    idempotency_table(MetaData()).create(op.get_bind())


def main() -> None:
    """``python -m minishop.platform.migrations``: what a service's migration child runs
    (``platform.schema_upgrade``). The URL comes in the environment, never in argv, where
    any user of the machine could read its password."""
    from minishop.platform.schema_upgrade import (
        DIRECTORY_VARIABLE,
        SCHEMA_VARIABLE,
        URL_VARIABLE,
    )

    asyncio.run(
        upgrade_to_head(
            os.environ[URL_VARIABLE],
            os.environ.get(SCHEMA_VARIABLE) or None,
            Path(os.environ[DIRECTORY_VARIABLE]),
        )
    )


if __name__ == "__main__":
    main()
