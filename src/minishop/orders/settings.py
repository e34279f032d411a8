from pydantic import Field
from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

ORDERS = MANIFEST.service("orders")
MIN_EXPIRY_INTERVAL_SECONDS = 0.1
"""A shorter round would be a busy loop on the database."""
MAX_SETTING_SECONDS = 10 * 365 * 24 * 3600
"""Ten years: more is a typo, and far more would not fit a ``timedelta``."""


class OrdersSettings(ServiceSettings):
    """Environment: ``ORDERS_PORT``, ``ORDERS_DATABASE_URL``, ``ORDERS_USERS_URL``,
    ``ORDERS_PAYMENT_TIMEOUT_SECONDS``, ``ORDERS_USER_CACHE_SECONDS``, ..."""

    model_config = SettingsConfigDict(env_prefix=ORDERS.env_prefix)

    port: int = ORDERS.port
    reconcile_interval_seconds: float = Field(default=15.0, gt=0)
    payment_timeout_seconds: float = Field(
        default=900.0,
        ge=0,
        le=MAX_SETTING_SECONDS,
        allow_inf_nan=False,
        description="An order unpaid for longer expires and its stock goes back to the "
        "catalog; 0: orders never expire.",
    )
    expiry_interval_seconds: float = Field(
        default=10.0,
        ge=MIN_EXPIRY_INTERVAL_SECONDS,
        le=MAX_SETTING_SECONDS,
        allow_inf_nan=False,
        description="How often unpaid orders are checked against the payment timeout.",
    )

    user_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=MAX_SETTING_SECONDS,
        allow_inf_nan=False,
        description="How long orders remembers that a user exists instead of asking the "
        "users service again; 0: it asks on every order.",
    )

    @property
    def orders_expire(self) -> bool:
        return self.payment_timeout_seconds > 0
