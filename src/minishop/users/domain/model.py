"""Users and the rules an address and a name must follow."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
MAX_USER_ID = 2**31 - 1
"""Ids are ``INTEGER`` keys: the largest value both SQLite and PostgreSQL hold."""


class InvalidUser(ValueError):
    """The data cannot describe a user."""


class UserNotFound(LookupError):
    def __init__(self, user_id: int) -> None:
        super().__init__(f"User {user_id} does not exist.")
        self.user_id = user_id


class EmailAlreadyRegistered(Exception):
    def __init__(self) -> None:
        super().__init__("A user with this email address is already registered.")


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str

    @classmethod
    def create(cls, email: str, name: str) -> NewUser:
        """Normalise, then refuse what would make a user unreachable or unreadable."""
        email = email.strip().lower()
        name = " ".join(name.split())
        if not _EMAIL.match(email) or len(email) > MAX_EMAIL_LENGTH:
            raise InvalidUser("email must be an address such as ada@example.com")
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidUser(f"name must be 1 to {MAX_NAME_LENGTH} characters")
        return cls(email=email, name=name)


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    created_at: datetime
