from pydantic import Field
from pydantic_settings import SettingsConfigDict

from minishop.platform.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    """Environment: ``ORDERS_PORT``, ``ORDERS_DATABASE_URL``, ``ORDERS_USERS_URL``, ..."""

    model_config = SettingsConfigDict(env_prefix="ORDERS_")

    port: int = 8003
    users_url: str = "http://127.0.0.1:8001"
    products_url: str = "http://127.0.0.1:8002"
    reconcile_interval_seconds: float = Field(default=15.0, gt=0)
