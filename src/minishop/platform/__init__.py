"""Plumbing every service shares besides observability: settings, database, errors."""
