"""The users HTTP API (``/api/v1/users``)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from minishop.platform.http import (
    IdempotencyKey,
    PageOf,
    PageParams,
    PathId,
    SafeText,
    id_exists_in_range,
    idempotent_json,
)
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.openapi import problem_responses
from minishop.platform.problems import Problem
from minishop.users.adapters.telemetry import UserMetrics
from minishop.users.application.services import UserService
from minishop.users.domain.model import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_USER_ID,
    EmailAlreadyRegistered,
    InvalidUser,
    UserNotFound,
)


class CreateUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: SafeText = Field(max_length=MAX_EMAIL_LENGTH, examples=["ada@example.com"])
    name: SafeText = Field(max_length=MAX_NAME_LENGTH, examples=["Ada Lovelace"])


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    created_at: datetime


def build_router(service: UserService, store: IdempotencyStore, metrics: UserMetrics) -> APIRouter:
    router = APIRouter(prefix="/api/v1/users", tags=["users"])

    @router.post("", status_code=201, response_model=UserOut, responses=problem_responses(409))
    async def create_user(
        body: CreateUser, request: Request, idempotency_key: IdempotencyKey = None
    ) -> Response:
        async def register() -> tuple[int, UserOut]:
            try:
                user = await service.register(body.email, body.name)
            except InvalidUser as exc:
                raise Problem(422, str(exc), type_="invalid-user") from exc
            except EmailAlreadyRegistered as exc:
                raise Problem(409, str(exc), type_="email-taken") from exc
            metrics.registered()
            return 201, UserOut.model_validate(user, from_attributes=True)

        return await idempotent_json(request, store, idempotency_key, register)

    @router.get("/{user_id}", response_model=UserOut, responses=problem_responses(404))
    async def get_user(user_id: PathId) -> UserOut:
        try:
            if not id_exists_in_range(user_id, MAX_USER_ID):
                raise UserNotFound(user_id)
            user = await service.get(user_id)
        except UserNotFound as exc:
            raise Problem(404, str(exc), type_="user-not-found") from exc
        return UserOut.model_validate(user, from_attributes=True)

    @router.get("", response_model=PageOf[UserOut])
    async def list_users(page: PageParams) -> PageOf[UserOut]:
        users = await service.list(page.limit, page.offset)
        return PageOf[UserOut].of(
            [UserOut.model_validate(user, from_attributes=True) for user in users], page
        )

    return router
