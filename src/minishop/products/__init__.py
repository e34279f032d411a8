"""Products service: the catalog and its stock."""
