"""Errors as ``application/problem+json`` (RFC 9457), the same shape from every service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minishop.observability import note_exception, note_problem

PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Problem(Exception):
    """An error a client can act on: a status, a stable ``type`` slug and a readable detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers
        self.extensions = extensions


def problem_response(
    status: int,
    detail: str,
    *,
    request: Request | None = None,
    type_: str = "about:blank",
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    if request is not None:
        note_problem(request, type_, detail)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


UNEXPECTED_DETAIL = "The service failed to handle this request; it has been logged."


def unexpected_problem(instance: str | None = None) -> JSONResponse:
    """The answer to a bug: a 500 problem that says nothing about the internals."""
    return problem_response(500, UNEXPECTED_DETAIL, instance=instance)


class UnexpectedErrorMiddleware:
    """Turns an exception no handler took into the 500 problem, and does not re-raise it.

    Starlette's outermost error layer answers the 500 and then re-raises, so that
    the server logs it; uvicorn then logs "Exception in ASGI application" a second
    time and closes the keep-alive connection, which the next request of a pooled
    client finds dead. This plain ASGI layer sits inside the observability
    middleware: the 500 goes out through it (status, span, trace header) and the
    exception is handed over with ``note_exception`` to be logged once.

    An exception after the response has started cannot become a 500 any more: it is
    re-raised, and the server closes the connection, the only way to tell the
    client that the answer is incomplete.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking_start)
        except Exception as exc:
            if started:
                raise
            note_exception(scope, exc)
            await unexpected_problem(scope.get("path"))(scope, receive, send)


def _describe_validation_errors(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    described = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()))
        described.append({"field": location, "message": error.get("msg", "invalid")})
    if any(error.get("type") == "json_invalid" for error in errors):
        return "The request body is not valid JSON.", described
    summary = "; ".join(f"{item['field']}: {item['message']}" for item in described[:5])
    return f"Invalid request: {summary}", described


def install_problem_handlers(app: FastAPI, *, database: bool = True) -> None:
    """Every error path of ``app`` answers with a problem document, never a bare 500 page.

    ``database``: the app reaches a database (``platform.sql``), whose unavailability is
    a retryable 503.
    """

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            request=request,
            type_=exc.type,
            title=exc.title,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _describe_validation_errors(list(exc.errors()))
        return problem_response(
            422,
            detail,
            request=request,
            type_="validation-error",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, Problem):  # FastAPI wraps errors raised while reading a body
            return await _problem(request, exc.__cause__)
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        return problem_response(
            exc.status_code,
            detail,
            request=request,
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    if database:
        _install_database_handlers(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Last resort, for an app without ``UnexpectedErrorMiddleware``."""
        return unexpected_problem(request.url.path)


def _install_database_handlers(app: FastAPI) -> None:
    from minishop.platform.sql import DatabaseUnavailable

    @app.exception_handler(DatabaseUnavailable)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The database is unreachable or went away: a retryable 503, not a bug's 500."""
        return problem_response(
            503,
            "The service's database is unavailable; retry shortly.",
            request=request,
            type_="database-unavailable",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )
