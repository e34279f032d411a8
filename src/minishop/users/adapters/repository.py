"""Users stored with SQLAlchemy Core."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from minishop.users.adapters.orm import users
from minishop.users.domain.model import EmailAlreadyRegistered, NewUser, User


def _to_user(row: Row) -> User:
    created_at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return User(id=row.id, email=row.email, name=row.name, created_at=created_at)


class SqlUserRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, user: NewUser) -> User:
        try:
            async with self._engine.begin() as connection:
                row = (
                    await connection.execute(
                        insert(users)
                        .values(email=user.email, name=user.name, created_at=datetime.now(UTC))
                        .returning(users)
                    )
                ).one()
        except IntegrityError as exc:
            raise EmailAlreadyRegistered() from exc
        return _to_user(row)

    async def get(self, user_id: int) -> User | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(users).where(users.c.id == user_id))
            ).one_or_none()
        return _to_user(row) if row else None

    async def list(self, limit: int, offset: int) -> list[User]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(users).order_by(users.c.id).limit(limit).offset(offset)
            )
            return [_to_user(row) for row in rows]
