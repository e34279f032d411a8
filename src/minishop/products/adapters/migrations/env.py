from minishop.platform.migrations import run_migrations
from minishop.products.adapters.orm import metadata

run_migrations(metadata)
