from pydantic_settings import SettingsConfigDict

from minishop.manifest import MANIFEST
from minishop.platform.settings import ServiceSettings

USERS = MANIFEST.service("users")


class UsersSettings(ServiceSettings):
    """Environment: ``USERS_PORT``, ``USERS_DATABASE_URL``, ``USERS_LOG_LEVEL``, ..."""

    model_config = SettingsConfigDict(env_prefix=USERS.env_prefix)

    port: int = USERS.port
