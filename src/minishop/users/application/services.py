"""Users use cases."""

from __future__ import annotations

from minishop.users.application.ports import UserRepository
from minishop.users.domain.model import NewUser, User, UserNotFound


class UserService:
    def __init__(self, repository: UserRepository) -> None:
        self._repository = repository

    async def register(self, email: str, name: str) -> User:
        return await self._repository.add(NewUser.create(email, name))

    async def get(self, user_id: int) -> User:
        user = await self._repository.get(user_id)
        if user is None:
            raise UserNotFound(user_id)
        return user

    async def list(self, limit: int, offset: int) -> list[User]:
        return await self._repository.list(limit, offset)
