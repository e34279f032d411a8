from pydantic_settings import SettingsConfigDict

from minishop.platform.settings import ServiceSettings


class ProductsSettings(ServiceSettings):
    """Environment: ``PRODUCTS_PORT``, ``PRODUCTS_DATABASE_URL``, ``PRODUCTS_LOG_LEVEL``, ..."""

    model_config = SettingsConfigDict(env_prefix="PRODUCTS_")

    port: int = 8002
