from minishop.payments.adapters.orm import metadata
from minishop.platform.migrations import run_migrations

run_migrations(metadata)
