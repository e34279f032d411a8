"""This service's Alembic migrations (``versions/``), applied when the service starts."""

HEAD_REVISION = "0001"
"""The newest revision in ``versions/``: a start whose database records it skips Alembic
(``platform.schema_version``). A new migration changes it; a test holds the two equal."""
