from pydantic_settings import SettingsConfigDict

from minishop.platform.settings import ServiceSettings


class UsersSettings(ServiceSettings):
    """Environment: ``USERS_PORT``, ``USERS_DATABASE_URL``, ``USERS_LOG_LEVEL``, ..."""

    model_config = SettingsConfigDict(env_prefix="USERS_")

    port: int = 8001
