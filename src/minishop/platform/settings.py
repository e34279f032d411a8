"""Settings common to every service; each service adds its own with its own env prefix.

Environment variables beat constructor arguments here (the reverse of
pydantic-settings' default), so the ``minishop`` command line can pass the shared
defaults it computed while a variable such as ``ORDERS_PORT`` still wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from minishop.manifest import ServiceEntry
from minishop.observability.logging import parse_level

INTERNAL_TOKEN_VARIABLE = "MINISHOP_INTERNAL_TOKEN"
FLAGS_FILE_VARIABLE = "MINISHOP_FLAGS_FILE"  # the same as minishop.flags.document's
ADMIN_TOKEN_VARIABLE = "MINISHOP_ADMIN_TOKEN"
_TOKEN_ALIASES = {
    "internal_token": INTERNAL_TOKEN_VARIABLE,
    "admin_token": ADMIN_TOKEN_VARIABLE,
    "flags_file": FLAGS_FILE_VARIABLE,
}


class ServiceSettings(BaseSettings):
    """What every service is configured with; subclasses set ``env_prefix``."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None,
        description="postgresql:// or sqlite:// URL; default: one SQLite file in data_dir.",
    )
    database_schema: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL only: the schema of this service's tables (created if missing).",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    migrations_in_process: bool = Field(
        default=False,
        description="Run a pending migration in the service's own process (tests that build "
        "many shops do, to save a child's start); by default a short-lived child process "
        "runs it, so the service never loads Alembic and SQLAlchemy (~24 MB).",
    )
    log_level: str = "INFO"
    environment: str = "local"
    max_body_bytes: int = Field(default=65_536, ge=1024)
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    idempotency_wait_seconds: float = Field(default=10.0, gt=0)
    max_header_bytes: int = Field(
        default=16_384,
        ge=1024,
        le=1_048_576,
        description="URL plus header lines; more is refused with 431 before it is buffered.",
    )
    max_header_count: int = Field(
        default=100, ge=8, le=10_000, description="Headers in one request; more is a 431."
    )
    header_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="From a connection's first byte (or its opening) to the end of the headers.",
    )
    body_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="From the request's start to the end of its body; slower is a 408.",
    )
    readiness_probe_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often the readiness checks run for the service_ready gauge.",
    )
    graceful_shutdown_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="After SIGTERM, how long requests in flight may still run.",
    )
    # One value for the whole shop, so no service prefix: read from MINISHOP_* only.
    internal_token: SecretStr | None = Field(
        default=None,
        validation_alias=INTERNAL_TOKEN_VARIABLE,
        description="Shared secret of service-to-service calls (X-Internal-Token).",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        validation_alias=ADMIN_TOKEN_VARIABLE,
        description="Bearer token of the /admin routes (CONTRACT section 9).",
    )
    flags_file: Path | None = Field(
        default=None,
        validation_alias=FLAGS_FILE_VARIABLE,
        description="The fault flag file every process of the shop watches "
        "(default: flags.json in data_dir).",
    )

    downstream_urls: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Where the services this one calls listen, by ``<name>_url`` (set as "
            "``<PREFIX><NAME>_URL``); a service left out is at its manifest port on 127.0.0.1."
        ),
    )

    def __init__(self, **values: Any) -> None:
        # The tokens' alias is their variable's name; tests and the command line also pass
        # them by field name, which pydantic would otherwise drop as an unknown extra.
        for field, alias in _TOKEN_ALIASES.items():
            if field in values:
                values.setdefault(alias, values.pop(field))
        super().__init__(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, dotenv_settings, init_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _collect_downstream_urls(cls, data: Any) -> Any:
        """Gather every ``<name>_url`` setting, whatever services the manifest names.

        The URL settings follow the manifest (a service that calls a new one needs no new
        field), so they are read here rather than declared: from constructor arguments,
        then from ``<PREFIX><NAME>_URL`` variables, which win as for every other setting.
        """
        if not isinstance(data, dict):
            return data
        data = dict(data)
        urls = dict(data.pop("downstream_urls", None) or {})
        for key in [key for key in data if _is_url_setting(key)]:
            urls[key.lower()] = data.pop(key)
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        if prefix:
            for variable, value in os.environ.items():
                upper = variable.upper()
                if upper.startswith(prefix) and _is_url_setting(upper[len(prefix) :]):
                    urls[upper[len(prefix) :].lower()] = value
        for key, value in urls.items():
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise ValueError(f"{prefix}{key.upper()}: use an http:// or https:// URL")
            urls[key] = value.rstrip("/")
        data["downstream_urls"] = urls
        return data

    def flags_path(self) -> Path:
        """The fault flag file (CONTRACT §9): one for the whole shop."""
        return self.flags_file if self.flags_file is not None else self.data_dir / "flags.json"

    def url_of(self, service: ServiceEntry) -> str:
        """The base URL of a service this one calls: as set, else its local default."""
        return self.downstream_urls.get(service.url_setting) or service.local_url()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        parse_level(value)
        return value.upper()

    @field_validator("internal_token", "admin_token", mode="before")
    @classmethod
    def _usable_token(cls, value: object) -> object:
        """An empty token is no token (an empty header must never match it); one that cannot
        travel in an HTTP header is refused at start rather than failing every call."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and not all(" " < char < "\x7f" for char in value):
            raise ValueError("use printable ASCII without spaces")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("use a postgresql:// or sqlite:// URL")
        return value

    def resolved_database_url(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"


def _is_url_setting(name: str) -> bool:
    """``USERS_URL`` / ``users_url``: a downstream URL, not the database's."""
    lowered = name.lower()
    return lowered.endswith("_url") and lowered != "database_url" and len(lowered) > 4
