"""Catalog, stock reservations, idempotency keys, and the seeded catalog.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from minishop.platform.migrations import create_idempotency_keys_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEED_CATALOG = [
    ("MUG-001", "Observability mug", 1250, 500),
    ("TSHIRT-TRACE", "Distributed tracing t-shirt", 2400, 300),
    ("STICKER-P99", "p99 latency sticker pack", 399, 2000),
    ("HOODIE-SLO", "SLO burn-rate hoodie", 5900, 150),
    ("BOOK-SRE", "Site reliability field notes", 3999, 200),
    ("CAP-GRAFANA", "Dashboard cap", 1800, 250),
    ("PAGER-RETRO", "Retro pager (decorative)", 8900, 40),
    ("KEYCAP-ALERT", "Red alert keycap", 650, 800),
]


def upgrade() -> None:
    products = op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sku", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=False),
        sa.Column("stock", sa.Integer, nullable=False),
        sa.CheckConstraint("stock >= 0", name="ck_products_stock_not_negative"),
        sa.CheckConstraint("price_cents > 0", name="ck_products_price_positive"),
    )
    op.create_table(
        "inventory_reservations",
        sa.Column("reservation_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inventory_reservation_lines",
        sa.Column(
            "reservation_id",
            sa.String(64),
            sa.ForeignKey("inventory_reservations.reservation_id"),
            primary_key=True,
        ),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
    )
    create_idempotency_keys_table()
    op.bulk_insert(
        products,
        [
            {"sku": sku, "name": name, "price_cents": price, "stock": stock}
            for sku, name, price, stock in SEED_CATALOG
        ],
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("inventory_reservation_lines")
    op.drop_table("inventory_reservations")
    op.drop_table("products")
