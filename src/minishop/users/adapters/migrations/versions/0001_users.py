"""Users, idempotency keys, and the demo user of the tour.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from minishop.platform.migrations import create_idempotency_keys_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    users = op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_idempotency_keys_table()
    op.bulk_insert(
        users,
        [{"email": "demo@minishop.dev", "name": "Demo Shopper", "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("users")
