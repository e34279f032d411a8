from pydantic import Field
from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

SLACK_RECEIVER = MANIFEST.service("slack-receiver")


class SlackReceiverSettings(ServiceSettings):
    """Environment: ``SLACK_RECEIVER_PORT``, ``SLACK_RECEIVER_KEEP_MESSAGES``, ..."""

    model_config = SettingsConfigDict(env_prefix=SLACK_RECEIVER.env_prefix)

    port: int = SLACK_RECEIVER.port
    keep_messages: int = Field(default=200, ge=1, le=100_000)
