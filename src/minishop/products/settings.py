from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

PRODUCTS = MANIFEST.service("products")


class ProductsSettings(ServiceSettings):
    """Environment: ``PRODUCTS_PORT``, ``PRODUCTS_DATABASE_URL``, ``PRODUCTS_LOG_LEVEL``, ..."""

    model_config = SettingsConfigDict(env_prefix=PRODUCTS.env_prefix)

    port: int = PRODUCTS.port
