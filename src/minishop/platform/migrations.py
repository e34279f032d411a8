"""Alembic migrations applied at service start, one migration history per service database."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from minishop.platform.idempotency import idempotency_table


def _upgrade(connection: Connection, script_location: str) -> None:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_to_head(engine: AsyncEngine, migrations_dir: Path) -> None:
    """Bring the service's database to the newest schema before it takes traffic."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, str(migrations_dir))


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


def create_idempotency_keys_table() -> None:
    """Create the ``idempotency_keys`` table every writing service keeps.

    The columns are declared once, in ``platform.idempotency.idempotency_table``, which
    the store queries. A change to that declaration is a schema change: it needs a new
    migration in each service, since databases created before it keep the old table.
    """
    idempotency_table(MetaData()).create(op.get_bind())
