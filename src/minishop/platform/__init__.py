"""Plumbing every service shares that is not observability: settings, database, errors, idempotency."""
