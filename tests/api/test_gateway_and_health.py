"""The gateway's door (API keys, rate limits, upstream failures) and readiness checks."""

from __future__ import annotations

from pathlib import Path

import httpx

from minishop.gateway.bootstrap import create_app as create_gateway
from minishop.gateway.settings import GatewaySettings
from tests.support.helpers import assert_problem, order_body
from tests.support.shop import BASE, PUBLIC_SERVICES, running_shop, transport


class Refusing(httpx.AsyncBaseTransport):
    """An upstream that is down: every connection is refused."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


async def test_api_keys_when_configured(tmp_path: Path) -> None:
    options = {"api_keys": "k-one,k-two"}
    async with running_shop(tmp_path, gateway_options=options) as shop, shop.client() as client:
        assert_problem(await client.get("/api/v1/products"), 401)
        assert_problem(await client.get("/api/v1/products", headers={"X-API-Key": "nope"}), 401)
        allowed = await client.get("/api/v1/products", headers={"X-API-Key": "k-two"})
        assert allowed.status_code == 200
        assert (await client.get("/health/live")).status_code == 200  # probes need no key


async def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    options = {"rate_limit_per_second": 1, "rate_limit_burst": 2}
    async with running_shop(tmp_path, gateway_options=options) as shop, shop.client() as client:
        statuses = [(await client.get("/api/v1/products")).status_code for _ in range(3)]
        assert statuses[:2] == [200, 200]
        limited = await client.get("/api/v1/products")
        assert_problem(limited, 429)
        assert int(limited.headers["retry-after"]) >= 1


async def test_a_down_service_is_a_503_problem_and_not_ready(tmp_path: Path) -> None:
    refusing = Refusing()
    gateway = create_gateway(
        GatewaySettings(data_dir=tmp_path, log_level="WARNING"),
        transports=dict.fromkeys(PUBLIC_SERVICES, refusing),
    )
    async with (
        gateway.router.lifespan_context(gateway),
        httpx.AsyncClient(transport=transport(gateway), base_url=BASE) as client,
    ):
        body = assert_problem(await client.post("/order", json=order_body()), 503)
        assert "orders" in body["detail"]
        assert (await client.get("/health/live")).status_code == 200
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert set(checks) == {*PUBLIC_SERVICES, "fault_flag"}
        assert {checks[name]["status"] for name in PUBLIC_SERVICES} == {"fail"}
        assert checks["fault_flag"]["status"] == "pass"  # no fault flag: the services are down
        metrics = (await client.get("/metrics")).text
        assert 'error_total{method="POST",reason="http_503",route="/order"' in metrics


async def test_every_service_is_ready_when_its_dependencies_are(tmp_path: Path) -> None:
    async with running_shop(tmp_path) as shop:
        for name in shop.apps:
            async with shop.client(name) as client:
                ready = await client.get("/health/ready")
                assert ready.status_code == 200, (name, ready.text)
                assert ready.json()["service"] == name
