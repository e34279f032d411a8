"""Nothing internal or admin is reachable without its credential (issue 8, items 1 and 2).

Through the gateway, every traversal variant is refused before it is forwarded, and
nothing changes behind it (the order stays pending, the stock stays, the admin flags
route is never reached). On the services' own ports, ``/internal/*`` needs ``X-Internal-Token``
and ``/admin/*`` needs ``Authorization: Bearer``: 401 without, 403 wrong, and closed when
the service has no token at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest
from fastapi import FastAPI

from minishop.gateway.bootstrap import create_app as create_gateway
from minishop.gateway.settings import GatewaySettings
from minishop.products.bootstrap import create_app as create_products
from minishop.products.settings import ProductsSettings
from tests.support.helpers import assert_problem, order_body, stock_of
from tests.support.shop import (
    ADMIN_HEADERS,
    ADMIN_TOKEN,
    BASE,
    INTERNAL_HEADERS,
    INTERNAL_TOKEN,
    PUBLIC_SERVICES,
    Shop,
    running_shop,
    transport,
)

# Ways to climb from /api/v1/<service>/ to the root, each as a client would send it.
# ``{s}`` is the separator the variant uses inside the target path as well.
CLIMBS = {
    "encoded slash": ("..%2f..%2f..%2f", "%2f"),
    "encoded slash, capitals": ("..%2F..%2F..%2F", "%2F"),
    "encoded dots": ("%2e%2e%2f%2e%2e%2f%2e%2e%2f", "%2f"),
    "mixed-case encoded dots": ("%2E%2e/%2e%2E/%2E%2E/", "/"),
    "plain dot-segments": ("../../../", "/"),
    "dot and dot-dot": ("./.././../../", "/"),
    "double encoding": ("%252e%252e%252f%252e%252e%252f%252e%252e%252f", "%252f"),
    "encoded backslash": ("..%5c..%5c..%5c", "%5c"),
    "backslash": ("..\\..\\..\\", "\\"),
    "empty segments": ("/..//..//../", "/"),
    "NUL then climb": ("1%00/../../../", "/"),
}
# Paths that are not forwarded whatever they aim at: each must be a 4xx, never a 5xx.
ODD_PATHS = [
    "/api/v1/orders/1%00",
    "/api/v1/orders/%00",
    "/api/v1/products/1%0a",
    "/api/v1/products/1%0d%0aX-Injected:%20yes",
    "/api/v1/users/%7f",
    "/api/v1/users/1%20",
    "/api/v1/payments/%2e",
    "/api/v1/payments/.",
    "/api/v1/orders//1",
    "/api/v1/orders/1/",
    "/api/v1/orders/%41",
    "/api/v1/orders/caf%C3%A9",
]


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> httpx.Response:
    return httpx.Response(
        status,
        headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers],
        content=body,
    )


async def call_raw(
    app: FastAPI,
    method: str,
    raw_path: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Send ``raw_path`` exactly as written, the way uvicorn hands it to the app.

    HTTP clients normalise dot-segments before sending; a raw ASGI call does not, so the
    app sees what an attacker with a socket can make it see.
    """
    body = orjson.dumps(json) if json is not None else b""
    raw = raw_path.encode("latin-1")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw,
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"shop.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *[(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()],
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("shop.test", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return _response(start["status"], start.get("headers", []), b"".join(chunks))


# Every credential there is: the gateway must refuse the path, not merely drop the header.
ALL_CREDENTIALS = {**INTERNAL_HEADERS, **ADMIN_HEADERS}


def _climb(service: str, climb: str, separator: str, target: list[str]) -> str:
    return f"/api/v1/{service}/{climb}{separator.join(target)}"


async def _assert_all_refused(
    shop: Shop, service: str, method: str, target: list[str], body: dict[str, Any] | None = None
) -> None:
    """Each climb to ``target`` with a body the target would accept is a 400 from the gateway."""
    for name, (climb, separator) in CLIMBS.items():
        path = _climb(service, climb, separator, target)
        response = await call_raw(
            shop.apps["gateway"], method, path, json=body, headers=ALL_CREDENTIALS
        )
        problem = assert_problem(response, 400)
        assert problem["type"] == "invalid-path", (name, problem)
        assert "not forwarded" in problem["detail"], (name, problem)


async def test_traversal_to_orders_payment_result_is_refused_and_the_order_stays_pending(
    shop: Shop,
) -> None:
    async with shop.client() as client:
        order_id = (await client.post("/order", json=order_body())).json()["order_id"]
        target = ["internal", "orders", str(order_id), "payment-result"]
        forged = {"payment_id": "forged", "succeeded": True}
        await _assert_all_refused(shop, "orders", "POST", target, forged)
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
    assert order["status"] == "pending"
    assert order.get("payment_id") is None


async def test_traversal_to_inventory_deductions_is_refused_and_the_stock_stays(
    shop: Shop,
) -> None:
    async with shop.client() as client:
        before = await stock_of(client, 1)
        deduction = {"reservation_id": "forged-1", "items": [{"product_id": 1, "quantity": 5}]}
        target = ["internal", "inventory", "deductions"]
        await _assert_all_refused(shop, "products", "POST", target, deduction)
        reservation = ["internal", "inventory", "deductions", "forged-1", "release"]
        await _assert_all_refused(shop, "products", "POST", reservation)
        assert await stock_of(client, 1) == before


async def test_traversal_to_the_admin_flags_is_refused_and_never_reaches_payments(
    shop: Shop,
) -> None:
    await _assert_all_refused(shop, "payments", "GET", ["admin", "flags"])
    await _assert_all_refused(shop, "payments", "GET", ["internal", "flags"])
    async with shop.client("payments") as payments:
        metrics = (await payments.get("/metrics")).text
    assert 'route="/admin/flags"' not in metrics


@pytest.mark.parametrize("path", ODD_PATHS)
async def test_odd_paths_are_a_4xx_problem_from_the_gateway(sqlite_shop: Shop, path: str) -> None:
    response = await call_raw(sqlite_shop.apps["gateway"], "GET", path)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
    assert_problem(response, response.status_code)


async def test_a_deeper_public_looking_path_is_a_404_not_forwarded(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client() as client:
        problem = assert_problem(await client.get("/api/v1/products/1/stock"), 404)
        assert problem["type"] == "not-found"
        assert "one id" in problem["detail"]
        assert (await client.get("/api/v1/products/1")).status_code == 200  # the id itself is fine


async def test_internal_routes_need_the_internal_token(sqlite_shop: Shop) -> None:
    body = {"reservation_id": "r-auth-1", "items": [{"product_id": 1, "quantity": 1}]}
    async with sqlite_shop.client("products") as products:
        before = await stock_of(products, 1)
        missing = assert_problem(
            await products.post("/internal/inventory/deductions", json=body), 401
        )
        assert missing["type"] == "unauthorized"
        assert "X-Internal-Token" in missing["detail"]
        wrong = await products.post(
            "/internal/inventory/deductions", json=body, headers={"X-Internal-Token": "guess"}
        )
        assert assert_problem(wrong, 403)["type"] == "forbidden"
        admin_instead = await products.post(
            "/internal/inventory/deductions", json=body, headers=ADMIN_HEADERS
        )
        assert_problem(admin_instead, 401)  # the admin token is no internal credential
        assert await stock_of(products, 1) == before

        right = await products.post(
            "/internal/inventory/deductions", json=body, headers=INTERNAL_HEADERS
        )
        assert right.status_code == 201, right.text
        assert await stock_of(products, 1) == before - 1


async def test_payment_result_route_needs_the_internal_token(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client() as client, sqlite_shop.client("orders") as orders:
        order_id = (await client.post("/order", json=order_body())).json()["order_id"]
        path = f"/internal/orders/{order_id}/payment-result"
        forged = {"payment_id": "forged", "succeeded": True}
        assert_problem(await orders.post(path, json=forged), 401)
        assert_problem(await orders.post(path, json=forged, headers={"X-Internal-Token": ""}), 401)
        assert_problem(
            await orders.post(
                path, json=forged, headers={"X-Internal-Token": INTERNAL_TOKEN + "x"}
            ),
            403,
        )
        assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "pending"


@pytest.mark.parametrize(
    "path",
    [
        "/%69nternal/inventory/deductions",  # decodes onto the route itself
        "/INTERNAL/inventory/deductions",
        "//internal/inventory/deductions",
        "/api/v1/products/..%2f..%2f..%2finternal%2finventory%2fdeductions",
        "/api/%2e%2e/%2e%2e/internal/inventory/deductions",
        "/internal/../internal/inventory/deductions",
        "/x/..%252f..%252finternal/inventory/deductions",
    ],
)
async def test_path_games_on_a_service_port_still_need_the_token(
    sqlite_shop: Shop, path: str
) -> None:
    body = {"reservation_id": "r-game", "items": [{"product_id": 1, "quantity": 1}]}
    products = sqlite_shop.apps["products"]
    async with sqlite_shop.client("products") as client:
        before = await stock_of(client, 1)
        assert_problem(await call_raw(products, "POST", path, json=body), 401)
        wrong = await call_raw(
            products, "POST", path, json=body, headers={"X-Internal-Token": "no"}
        )
        assert_problem(wrong, 403)
        assert await stock_of(client, 1) == before


ADMIN_SERVICES = ("users", "products", "orders", "payments")
"""The services that hold credentials, so serve ``/admin/flags`` (all but the gateway)."""


async def test_admin_routes_need_the_admin_bearer_token(sqlite_shop: Shop) -> None:
    for service in ADMIN_SERVICES:
        async with sqlite_shop.client(service) as client:
            missing = await client.get("/admin/flags")
            assert assert_problem(missing, 401)["type"] == "unauthorized", service
            assert missing.headers["www-authenticate"].startswith("Bearer")
            for header in (f"Basic {ADMIN_TOKEN}", ADMIN_TOKEN, "Bearer"):
                malformed = await client.get("/admin/flags", headers={"Authorization": header})
                assert_problem(malformed, 401)
            wrong = await client.get("/admin/flags", headers={"Authorization": "Bearer nope"})
            assert assert_problem(wrong, 403)["type"] == "forbidden", service
            internal_instead = await client.get(
                "/admin/flags", headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"}
            )
            assert_problem(internal_instead, 403)
            lower_case = {"Authorization": f"bearer {ADMIN_TOKEN}"}
            seen = await client.get("/admin/flags", headers=lower_case)
            assert seen.status_code == 200, (service, seen.text)
            assert seen.json()["service"] == service
            assert seen.json()["flags"]["payment_failure"]["variant"] == "off"


async def test_the_provider_controls_are_gone(sqlite_shop: Shop) -> None:
    """The flags replaced them (CONTRACT §9): no route changes the provider any more."""
    change = {"failure_rate": 1.0, "latency_min_ms": 0, "latency_max_ms": 1}
    async with sqlite_shop.client("payments") as payments:
        assert_problem(
            await payments.put("/admin/provider", json=change, headers=ADMIN_HEADERS), 404
        )
        assert_problem(await payments.get("/admin/provider", headers=ADMIN_HEADERS), 404)


async def test_the_old_provider_path_is_gone(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client("payments") as payments:
        old = await payments.put(
            "/internal/provider",
            json={"failure_rate": 1.0, "latency_min_ms": 0, "latency_max_ms": 1},
            headers={**INTERNAL_HEADERS, **ADMIN_HEADERS},
        )
        assert_problem(old, 404)


async def test_refusals_are_counted_and_logged_like_any_4xx(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client("products") as products:
        await products.post("/internal/inventory/deductions", json={})
        metrics = (await products.get("/metrics")).text
    assert 'request_total{method="POST",route="unmatched",service="products",status="401"}' in (
        metrics
    )


@contextlib.asynccontextmanager
async def _products_without_tokens(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_products(ProductsSettings(data_dir=tmp_path, log_level="WARNING"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport(app), base_url=BASE) as client,
    ):
        yield client


async def test_a_service_without_a_token_keeps_its_internal_routes_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MINISHOP_INTERNAL_TOKEN", raising=False)
    monkeypatch.delenv("MINISHOP_ADMIN_TOKEN", raising=False)
    body = {"reservation_id": "r-closed", "items": [{"product_id": 1, "quantity": 1}]}
    async with _products_without_tokens(tmp_path) as products:
        for headers in ({}, {"X-Internal-Token": ""}, {"X-Internal-Token": "anything"}):
            closed = await products.post(
                "/internal/inventory/deductions", json=body, headers=headers
            )
            problem = assert_problem(closed, 403)
            assert "MINISHOP_INTERNAL_TOKEN is not set" in problem["detail"]
        assert (await products.get("/api/v1/products/1")).status_code == 200
    warnings = [
        line for line in capfd.readouterr().out.splitlines() if "MINISHOP_INTERNAL_TOKEN" in line
    ]
    assert warnings and '"level": "warning"' in warnings[0].replace('":"', '": "')


async def test_orders_with_a_wrong_token_cannot_take_stock(tmp_path: Path) -> None:
    wrong = {"orders": {"internal_token": "not-the-shop-token"}}
    async with running_shop(tmp_path, wrong) as shop, shop.client() as client:
        before = await stock_of(client, 1)
        refused = await client.post("/order", json=order_body())
        assert refused.status_code >= 400, refused.text
        assert await stock_of(client, 1) == before


async def test_service_to_service_flows_work_with_the_token(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client() as client:
        before = await stock_of(client, 1)
        order = await client.post("/order", json=order_body(quantity=1))  # orders -> products
        assert order.status_code == 201, order.text
        paid = await client.post("/payment/pay", json={"order_id": order.json()["order_id"]})
        assert paid.status_code == 200, paid.text  # payments -> orders
        fetched = await client.get(f"/api/v1/orders/{order.json()['order_id']}")
        assert fetched.json()["status"] == "paid"
        assert await stock_of(client, 1) == before - 1


async def test_the_gateway_sends_no_internal_token_and_forwards_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINISHOP_INTERNAL_TOKEN", INTERNAL_TOKEN)  # as `minishop up` sets it
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "limit": 50, "offset": 0})

    gateway = create_gateway(
        GatewaySettings(data_dir=tmp_path, log_level="WARNING"),
        transports=dict.fromkeys(PUBLIC_SERVICES, httpx.MockTransport(upstream)),
    )
    async with (
        gateway.router.lifespan_context(gateway),
        httpx.AsyncClient(transport=transport(gateway), base_url=BASE) as client,
    ):
        response = await client.get("/api/v1/products/7", headers=ALL_CREDENTIALS)
    assert response.status_code == 200
    # Beside the forwarded call, only the readiness probe's liveness checks reach upstream.
    (forwarded,) = [request for request in seen if request.url.path != "/health/live"]
    assert forwarded.url.path == "/api/v1/products/7"
    assert "x-internal-token" not in forwarded.headers
    assert "authorization" not in forwarded.headers


@pytest.mark.parametrize(
    ("service", "path", "method"),
    [
        ("products", "/internal/inventory/deductions", "post"),
        ("products", "/internal/inventory/deductions/{reservation_id}/release", "post"),
        ("orders", "/internal/orders/{order_id}/payment-result", "post"),
        ("payments", "/admin/flags", "get"),
        ("orders", "/admin/flags", "get"),
    ],
)
async def test_openapi_documents_the_401_and_403_of_guarded_routes(
    sqlite_shop: Shop, service: str, path: str, method: str
) -> None:
    async with sqlite_shop.client(service) as client:
        schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"][path][method]["responses"]
    for status in ("401", "403"):
        assert "application/problem+json" in responses[status]["content"], (path, status)
    public = schema["paths"].get("/api/v1/products/{product_id}", {}).get("get", {})
    assert "401" not in public.get("responses", {})
