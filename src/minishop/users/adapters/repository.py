"""Users stored in the service's database, in SQL through ``platform.sql``."""

from __future__ import annotations

from datetime import UTC, datetime

from minishop.platform.sql import Database, Row, UniqueViolation
from minishop.users.domain.model import EmailAlreadyRegistered, NewUser, User

_COLUMNS = "id, email, name, created_at"


def _to_user(row: Row) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], created_at=row["created_at"])


class SqlUserRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(self, user: NewUser) -> User:
        try:
            async with self._database.transaction() as connection:
                row = await connection.fetchrow(
                    f"INSERT INTO users (email, name, created_at) VALUES ($1, $2, $3)"
                    f" RETURNING {_COLUMNS}",
                    user.email,
                    user.name,
                    datetime.now(UTC),
                )
        except UniqueViolation as exc:
            raise EmailAlreadyRegistered() from exc
        assert row is not None  # RETURNING of an INSERT that succeeded
        return _to_user(row)

    async def get(self, user_id: int) -> User | None:
        async with self._database.connection() as connection:
            row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
        return _to_user(row) if row else None

    async def list(self, limit: int, offset: int) -> list[User]:
        async with self._database.connection() as connection:
            rows = await connection.fetch(
                f"SELECT {_COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2", limit, offset
            )
        return [_to_user(row) for row in rows]
