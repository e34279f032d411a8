from pydantic import Field
from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

ORDERS = MANIFEST.service("orders")


class OrdersSettings(ServiceSettings):
    """Environment: ``ORDERS_PORT``, ``ORDERS_DATABASE_URL``, ``ORDERS_USERS_URL``, ..."""

    model_config = SettingsConfigDict(env_prefix=ORDERS.env_prefix)

    port: int = ORDERS.port
    reconcile_interval_seconds: float = Field(default=15.0, gt=0)
