from pydantic import Field
from pydantic_settings import SettingsConfigDict

from minishop.platform.settings import ServiceSettings


class SlackReceiverSettings(ServiceSettings):
    """Environment: ``SLACK_RECEIVER_PORT``, ``SLACK_RECEIVER_KEEP_MESSAGES``, ..."""

    model_config = SettingsConfigDict(env_prefix="SLACK_RECEIVER_")

    port: int = 8090
    keep_messages: int = Field(default=200, ge=1, le=100_000)
