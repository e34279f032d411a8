from minishop.platform.migrations import run_migrations
from minishop.users.adapters.orm import metadata

run_migrations(metadata)
