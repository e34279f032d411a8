"""Tables of the products database, declared for its migrations (``migrations/env.py``);
the repository speaks SQL through ``platform.sql``."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("stock", Integer, nullable=False),
    CheckConstraint("stock >= 0", name="ck_products_stock_not_negative"),
    CheckConstraint("price_cents > 0", name="ck_products_price_positive"),
)

reservations = Table(
    "inventory_reservations",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

reservation_lines = Table(
    "inventory_reservation_lines",
    metadata,
    Column(
        "reservation_id",
        String(64),
        ForeignKey("inventory_reservations.reservation_id"),
        primary_key=True,
    ),
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
)
