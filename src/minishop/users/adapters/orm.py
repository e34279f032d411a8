"""Tables of the users database."""

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

from minishop.platform.idempotency import idempotency_table

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = idempotency_table(metadata)
