"""Every error path answers with a problem document a client can act on."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from minishop.platform.problems import Problem, install_problem_handlers
from minishop.platform.sql import DatabaseUnavailable
from tests.support.helpers import assert_problem


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/db-down")
    async def db_down() -> None:
        raise DatabaseUnavailable("connection refused", ConnectionRefusedError("refused"))

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret internals")

    @app.get("/refused")
    async def refused() -> None:
        raise Problem(
            409, "Not enough stock for product 1.", type_="insufficient-stock", product_id=1
        )

    return app


async def test_problem_documents_for_each_kind_of_failure() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        down = await client.get("/db-down")
        assert assert_problem(down, 503)["type"] == "database-unavailable"
        assert down.headers["retry-after"] == "1"

        bug = await client.get("/bug")
        body = assert_problem(bug, 500)
        assert "secret internals" not in bug.text  # internals stay in the log, not the answer

        refused = assert_problem(await client.get("/refused"), 409)
        assert refused["product_id"] == 1
        assert refused["instance"] == "/refused"
        assert body["title"] == "Internal Server Error"
