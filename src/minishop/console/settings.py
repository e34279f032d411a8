from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

CONSOLE = MANIFEST.service("console")
OTLP_PORT_VARIABLE = "MINISHOP_OTLP_PORT"


class ConsoleSettings(ServiceSettings):
    """Environment: ``MINISHOP_CONSOLE_PORT``, ``MINISHOP_OTLP_PORT``,
    ``MINISHOP_CONSOLE_RETENTION_SPANS``, ... (CONTRACT section 8).

    Where the other processes listen comes, like every service's downstream URLs, from
    ``MINISHOP_CONSOLE_<NAME>_URL`` (``MINISHOP_CONSOLE_PROMETHEUS_URL``, ...): ``minishop up``
    sets them to the ports it really uses.
    """

    model_config = SettingsConfigDict(env_prefix=CONSOLE.env_prefix)

    port: int = CONSOLE.port
    otlp_port: int = Field(
        default=4318,
        ge=1,
        le=65535,
        validation_alias=AliasChoices(OTLP_PORT_VARIABLE, "otlp_port"),
        description="The OTLP/HTTP receiver (/v1/traces, /v1/logs).",
    )
    otlp_max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="Largest OTLP request accepted, after gzip; more is a 413.",
    )
    queue_items: int = Field(
        default=10_000,
        ge=100,
        le=10_000_000,
        description="Spans and log records accepted but not yet written; beyond, a 429.",
    )
    retention_spans: int = Field(default=1_000_000, ge=1_000, le=100_000_000)
    retention_logs: int = Field(default=1_000_000, ge=1_000, le=100_000_000)
    retention_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    retention_interval_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="How often retention runs."
    )
    dashboards_dir: Path | None = Field(
        default=None,
        description="The Grafana dashboards to draw (default: deploy/grafana/dashboards of "
        "this source checkout).",
    )
    runbooks_dir: Path | None = Field(
        default=None,
        description="The runbooks alerts link to (default: docs/runbooks of this checkout).",
    )
    refresh_seconds: int = Field(
        default=5, ge=0, le=3600, description="Pages refresh this often; 0 turns it off."
    )

    def url_for(self, name: str, default_port: int) -> str:
        """The base URL of another process of the lab (a service, Prometheus, ...)."""
        key = name.replace("-", "_") + "_url"
        return self.downstream_urls.get(key) or f"http://127.0.0.1:{default_port}"
