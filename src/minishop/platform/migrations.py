"""Alembic migrations applied at service start, one migration history per service database."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine


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
    """The ``idempotency_keys`` table every writing service keeps (see platform.idempotency)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(319), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("response_body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
