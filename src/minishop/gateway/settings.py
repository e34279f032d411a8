from ipaddress import ip_network
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

GATEWAY = MANIFEST.service("gateway")


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class GatewaySettings(ServiceSettings):
    """Environment: ``GATEWAY_PORT``, ``GATEWAY_API_KEYS`` (comma-separated), ``GATEWAY_*_URL``,
    ``GATEWAY_TRUSTED_PROXIES`` (comma-separated IPs or CIDRs), ``GATEWAY_RATE_LIMIT_*`` and
    ``GATEWAY_AUTH_FAILURE_*``."""

    model_config = SettingsConfigDict(env_prefix=GATEWAY.env_prefix)

    port: int = GATEWAY.port
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Empty: the gateway is open (the local lab)."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Proxies whose X-Forwarded-For is believed (IPs or CIDRs). Empty: the client is "
            "always the connection's peer and the header is ignored."
        ),
    )
    graceful_shutdown_seconds: float = Field(
        default=1.5,
        gt=0,
        le=60,
        description="Longer than the services': a client's request spans the whole chain.",
    )
    rate_limit_per_second: float = Field(default=1000, ge=0, description="0 turns it off.")
    rate_limit_burst: float = Field(default=2000, ge=1)
    rate_limit_max_clients: int = Field(
        default=10_000, ge=100, description="Clients remembered by the rate and failure limits."
    )
    auth_failure_limit: int = Field(
        default=10, ge=1, description="Failed API-key attempts a client may make in a window."
    )
    auth_failure_window_seconds: float = Field(default=60.0, gt=0)
    auth_failure_block_seconds: float = Field(
        default=60.0, gt=0, description="How long a client that hit the limit is refused (429)."
    )
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("api_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _comma_separated(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Refuse a typo at start-up rather than silently trusting nobody (or everybody)."""
        networks = []
        for entry in value:
            try:
                networks.append(str(ip_network(entry, strict=False)))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return networks
