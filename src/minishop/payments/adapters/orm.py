"""Tables of the payments database, declared for its migrations (``migrations/env.py``);
the repository speaks SQL through ``platform.sql``."""

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, text

metadata = MetaData()

ACTIVE = "status IN ('processing', 'succeeded')"

payments = Table(
    "payments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", Integer, nullable=False, index=True),
    Column("amount_cents", Integer, nullable=False),
    # processing, succeeded, failed, refunded: free text (no CHECK), so a new status needs no
    # migration; ``refunded`` is not ACTIVE, like ``failed``.
    Column("status", String(16), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("card_last4", String(4), nullable=True),
    Column("order_synced", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # At most one charge in flight or succeeded per order: the database refuses a second.
    Index(
        "ux_payments_one_active_per_order",
        "order_id",
        unique=True,
        sqlite_where=text(ACTIVE),
        postgresql_where=text(ACTIVE),
    ),
)
