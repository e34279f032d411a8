from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from minishop.platform.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Environment: ``GATEWAY_PORT``, ``GATEWAY_API_KEYS`` (comma-separated), ``GATEWAY_*_URL``."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    port: int = 8080
    users_url: str = "http://127.0.0.1:8001"
    products_url: str = "http://127.0.0.1:8002"
    orders_url: str = "http://127.0.0.1:8003"
    payments_url: str = "http://127.0.0.1:8004"
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Empty: the gateway is open (the local lab)."
    )
    rate_limit_per_second: float = Field(default=1000, ge=0, description="0 turns it off.")
    rate_limit_burst: float = Field(default=2000, ge=1)
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value
