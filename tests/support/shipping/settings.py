from pydantic_settings import SettingsConfigDict

from minishop.platform.settings import ServiceSettings
from tests.support.shipping import SHIPPING


class ShippingSettings(ServiceSettings):
    """Environment: ``SHIPPING_PORT``, ``SHIPPING_ORDERS_URL``, ..."""

    model_config = SettingsConfigDict(env_prefix=SHIPPING.env_prefix)

    port: int = SHIPPING.port
