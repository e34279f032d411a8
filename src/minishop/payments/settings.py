from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

PAYMENTS = MANIFEST.service("payments")


class PaymentsSettings(ServiceSettings):
    """Environment: ``PAYMENTS_FAILURE_RATE``, ``PAYMENTS_LATENCY_MIN_MS``, ``PAYMENTS_SEED``."""

    model_config = SettingsConfigDict(env_prefix=PAYMENTS.env_prefix)

    port: int = PAYMENTS.port
    failure_rate: float = Field(default=0.05, ge=0, le=1)
    latency_min_ms: float = Field(default=20, ge=0, le=60_000)
    latency_max_ms: float = Field(default=80, ge=0, le=60_000)
    seed: int | None = None
    # With the 6 s charge lease, a charge cut short by a crash is resolved within 11 s.
    reconcile_interval_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _latency_range(self) -> "PaymentsSettings":
        if self.latency_min_ms > self.latency_max_ms:
            raise ValueError("latency_min_ms must not exceed latency_max_ms")
        return self
