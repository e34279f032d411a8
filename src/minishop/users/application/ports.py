"""What the users use cases need from the outside world."""

from __future__ import annotations

from typing import Protocol

from minishop.users.domain.model import NewUser, User


class UserRepository(Protocol):
    async def add(self, user: NewUser) -> User:
        """Store a new user; raises EmailAlreadyRegistered when the address is taken."""
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def list(self, limit: int, offset: int) -> list[User]: ...
