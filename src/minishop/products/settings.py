from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings
from minishop.products.domain.model import MAX_STOCK

PRODUCTS = MANIFEST.service("products")
MIN_RESTOCK_INTERVAL_SECONDS = 0.1
"""A shorter round would be a busy loop on the database, not a supplier."""
MAX_INTERVAL_SECONDS = 24 * 3600
"""A supplier that comes less than once a day is a typo (use 0 to turn it off)."""


class ProductsSettings(ServiceSettings):
    """Environment: ``PRODUCTS_PORT``, ``PRODUCTS_DATABASE_URL``, ``PRODUCTS_LOG_LEVEL``,
    ``PRODUCTS_RESTOCK_INTERVAL_SECONDS``, ``PRODUCTS_RESTOCK_THRESHOLD``, ..."""

    model_config = SettingsConfigDict(env_prefix=PRODUCTS.env_prefix)

    port: int = PRODUCTS.port
    restock_interval_seconds: float = Field(
        default=10.0,
        ge=0,
        le=MAX_INTERVAL_SECONDS,
        allow_inf_nan=False,
        description="How often the simulated supplier looks for products running low; "
        "0 turns it off.",
    )
    restock_threshold: int = Field(
        default=20,
        ge=1,
        le=MAX_STOCK,
        description="A product with fewer units than this is restocked.",
    )
    restock_target: int = Field(
        default=100,
        ge=2,
        le=MAX_STOCK,
        description="The stock a restocked product is brought back to.",
    )

    @model_validator(mode="after")
    def _workable_supplier(self) -> Self:
        interval = self.restock_interval_seconds
        if 0 < interval < MIN_RESTOCK_INTERVAL_SECONDS:
            raise ValueError(
                f"restock_interval_seconds: use 0 (supplier off) "
                f"or at least {MIN_RESTOCK_INTERVAL_SECONDS} s"
            )
        if self.restock_threshold >= self.restock_target:
            raise ValueError(
                f"restock_threshold ({self.restock_threshold}) must be below "
                f"restock_target ({self.restock_target})"
            )
        return self

    @property
    def supplier_on(self) -> bool:
        return self.restock_interval_seconds > 0
