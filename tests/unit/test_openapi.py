"""Every service's OpenAPI documents its problem answers (platform/openapi.py)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from minishop.cli.loading import app_factory, settings_type
from minishop.manifest import MANIFEST
from minishop.orders.bootstrap import create_app as create_orders
from minishop.orders.settings import OrdersSettings
from minishop.payments.bootstrap import create_app as create_payments
from minishop.payments.settings import PaymentsSettings
from minishop.platform.openapi import declare_problems

PROBLEM = "application/problem+json"
SHOP = {entry.name: entry for entry in MANIFEST.shop}


def build(service: str, data_dir: Path) -> FastAPI:
    entry = SHOP[service]
    return app_factory(entry)(settings_type(entry)(data_dir=data_dir))


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]


def problem_statuses(operation: dict[str, Any]) -> set[int]:
    return {
        int(status)
        for status, response in operation["responses"].items()
        if PROBLEM in response.get("content", {})
    }


@pytest.mark.parametrize("service", list(SHOP))
def test_every_operation_documents_its_problems(tmp_path: Path, service: str) -> None:
    app = build(service, tmp_path)
    schema = app.openapi()
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) >= {"type", "title", "status", "detail", "instance", "errors"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, method, operation in operations(app):
        statuses = problem_statuses(operation)
        assert 500 in statuses, (method, path)
        if "requestBody" in operation or operation.get("parameters"):
            assert 422 in statuses, (method, path)
        if "requestBody" in operation:
            assert {400, 408, 413} <= statuses, (method, path)
        if path.startswith(("/internal/", "/admin/")):
            assert {401, 403} <= statuses, (method, path)
        if path.startswith(("/api/", "/internal/")) and service != "gateway":
            assert 503 in statuses, (method, path)  # the database can always be away


def test_routes_add_their_own_problems(tmp_path: Path) -> None:
    paths = create_orders(OrdersSettings(data_dir=tmp_path)).openapi()["paths"]
    assert 404 in problem_statuses(paths["/api/v1/orders/{order_id}"]["get"])
    assert {409, 400} <= problem_statuses(paths["/api/v1/orders"]["post"])  # stock; bad key


def test_other_parts_can_declare_more_statuses(tmp_path: Path) -> None:
    app = create_payments(PaymentsSettings(data_dir=tmp_path))
    app.openapi()  # cached: a declaration must still reach the next document
    declare_problems(app, 431)
    declare_problems(app, 429, prefixes=("/api",), methods=["POST"])
    for path, method, operation in operations(app):
        statuses = problem_statuses(operation)
        assert 431 in statuses
        assert (429 in statuses) == (path.startswith("/api/") and method == "post"), (method, path)


def test_every_operation_id_is_unique_and_none_is_reported_twice(tmp_path: Path) -> None:
    """The gateway serves five methods per route; each still gets its own operationId."""
    for service in SHOP:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a "Duplicate Operation ID" warning fails here
            ids = [
                operation["operationId"] for _, _, operation in operations(build(service, tmp_path))
            ]
        assert len(ids) == len(set(ids)), service
    gateway = {
        (method, path): operation["operationId"]
        for path, method, operation in operations(build("gateway", tmp_path))
    }
    assert gateway[("get", "/api/v1/orders")] == "orders_collection_api_v1_orders_get"
    assert gateway[("delete", "/api/v1/orders")] == "orders_collection_api_v1_orders_delete"
