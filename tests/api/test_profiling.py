"""``GET /debug/pprof/profile``: a CPU profile of the running service, as speedscope JSON.

The profile must show what the service's event loop ran while it was recorded (a request's
hot function, by name), not only the profiling request itself; it needs the admin token;
one runs at a time; bad durations are refused before anything is sampled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI

from minishop.platform.profiling import PROCESS_PROFILER, PROFILE_PATH, CpuProfiler
from minishop.platform.service_app import ServiceParts, create_service_app, service_telemetry
from minishop.platform.settings import ServiceSettings
from tests.support.flags import switch_off, switch_on
from tests.support.helpers import assert_problem
from tests.support.profiles import speedscope_frames
from tests.support.shop import ADMIN_HEADERS, ADMIN_TOKEN, BASE, Shop, transport


def spin_for_the_profiler_test(milliseconds: float) -> int:
    """CPU work with a name no other frame has, run on the event loop as a handler would."""
    deadline = time.perf_counter() + milliseconds / 1000
    turns = 0
    while time.perf_counter() < deadline:
        turns += 1
    return turns


def _profiled_app(tmp_path: Path, admin_token: str | None = ADMIN_TOKEN) -> FastAPI:
    settings = ServiceSettings(
        port=1, data_dir=tmp_path, log_level="WARNING", admin_token=admin_token
    )  # in-process: the port is never listened on
    router = APIRouter()

    @router.get("/spin")
    async def spin(ms: float = 20) -> dict[str, int]:
        return {"turns": spin_for_the_profiler_test(ms)}

    return create_service_app(
        ServiceParts(
            name="profiled",
            description="A service with a hot route.",
            telemetry=service_telemetry("profiled", settings),
            routers=[router],
            settings=settings,
        )
    )


@contextlib.asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport(app), base_url=BASE, timeout=30) as client,
    ):
        yield client


async def _until_recording() -> None:
    for _ in range(500):
        if PROCESS_PROFILER.recording:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the profile never started")


async def test_the_profile_names_the_function_the_service_ran_meanwhile(tmp_path: Path) -> None:
    async with _client(_profiled_app(tmp_path)) as client:
        profiling = asyncio.create_task(
            client.get(PROFILE_PATH, params={"seconds": 1}, headers=ADMIN_HEADERS)
        )
        await _until_recording()
        while PROCESS_PROFILER.recording:  # other requests, served while it samples
            assert (await client.get("/spin", params={"ms": 20})).status_code == 200
            await asyncio.sleep(0.005)
        response = await profiling
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="profiled-')
    assert disposition.endswith('.speedscope.json"')
    names = speedscope_frames(response.json())
    assert "spin_for_the_profiler_test" in names
    assert "spin" in names  # its handler, under the request's middleware
    profile = response.json()["profiles"][0]
    assert profile["unit"] == "seconds" and profile["endValue"] >= 0.9  # the second asked for
    assert not PROCESS_PROFILER.recording


def brief_burst_for_the_profiler_test(milliseconds: float) -> None:
    deadline = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < deadline:
        pass


async def test_short_bursts_of_a_hot_function_are_in_the_profile() -> None:
    """Bursts of 8 ms (longer than the 5 ms sample interval, so each is sampled), each under
    1 % of the profile: a timeline renderer that drops small nodes would lose every one."""
    stop = asyncio.Event()

    async def bursts() -> None:
        while not stop.is_set():
            brief_burst_for_the_profiler_test(8)
            await asyncio.sleep(0.1)

    worker = asyncio.create_task(bursts())
    try:
        recorded = await CpuProfiler().record(1, description="bursts")
    finally:
        stop.set()
        await worker
    assert "brief_burst_for_the_profiler_test" in speedscope_frames(orjson.loads(recorded.body))


async def test_the_profiler_needs_the_admin_token(tmp_path: Path) -> None:
    async with _client(_profiled_app(tmp_path)) as client:
        missing = assert_problem(await client.get(PROFILE_PATH, params={"seconds": 1}), 401)
        assert "/debug routes require credentials" in missing["detail"]
        wrong = {"Authorization": "Bearer not-the-token"}
        assert_problem(await client.get(PROFILE_PATH, headers=wrong), 403)
        basic = {"Authorization": f"Basic {ADMIN_TOKEN}"}
        assert_problem(await client.get(PROFILE_PATH, headers=basic), 401)
        climbing = "/api/../debug/pprof/profile"
        assert_problem(await client.get(climbing), 401)
    assert not PROCESS_PROFILER.recording  # refused before anything was sampled


async def test_a_service_without_the_admin_token_refuses_every_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MINISHOP_ADMIN_TOKEN", raising=False)
    async with _client(_profiled_app(tmp_path, admin_token=None)) as client:
        closed = assert_problem(await client.get(PROFILE_PATH, headers=ADMIN_HEADERS), 403)
    assert "MINISHOP_ADMIN_TOKEN is not set" in closed["detail"]


async def test_one_profile_at_a_time(tmp_path: Path) -> None:
    async with _client(_profiled_app(tmp_path)) as client:
        first = asyncio.create_task(
            client.get(PROFILE_PATH, params={"seconds": 1}, headers=ADMIN_HEADERS)
        )
        await _until_recording()
        second = await client.get(PROFILE_PATH, params={"seconds": 1}, headers=ADMIN_HEADERS)
        problem = assert_problem(second, 409)
        assert problem["type"] == "profile-in-progress"
        assert (await first).status_code == 200
        again = await client.get(PROFILE_PATH, params={"seconds": 1}, headers=ADMIN_HEADERS)
        assert again.status_code == 200  # free again once the first one ended


@pytest.mark.parametrize("seconds", ["0", "61", "-1", "1.5", "ten", "", "1e3"])
async def test_a_bad_duration_is_refused_before_sampling(tmp_path: Path, seconds: str) -> None:
    async with _client(_profiled_app(tmp_path)) as client:
        response = await client.get(
            PROFILE_PATH, params={"seconds": seconds}, headers=ADMIN_HEADERS
        )
        problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"].endswith("seconds"), problem
    assert not PROCESS_PROFILER.recording


async def test_a_cancelled_profile_stops_sampling_and_frees_the_profiler(tmp_path: Path) -> None:
    async with _client(_profiled_app(tmp_path)) as client:
        abandoned = asyncio.create_task(
            client.get(PROFILE_PATH, params={"seconds": 30}, headers=ADMIN_HEADERS)
        )
        await _until_recording()
        abandoned.cancel()  # the client goes away: the handler is cancelled
        with contextlib.suppress(asyncio.CancelledError):
            await abandoned
        assert not PROCESS_PROFILER.recording
        response = await client.get(PROFILE_PATH, params={"seconds": 1}, headers=ADMIN_HEADERS)
        assert response.status_code == 200
    speedscope_frames(response.json())


async def test_every_shop_service_has_it_and_the_gateway_refuses_it(sqlite_shop: Shop) -> None:
    for service, app in sqlite_shop.apps.items():
        async with sqlite_shop.client(service) as client:
            schema = (await client.get("/openapi.json")).json()
            without = await client.get(PROFILE_PATH, params={"seconds": 1})
            if service == "gateway":  # never given the admin token (it faces clients)
                assert PROFILE_PATH not in schema["paths"]
                refused = assert_problem(without, 403)
                assert "gateway is never given MINISHOP_ADMIN_TOKEN" in refused["detail"]
                forged = await client.get(PROFILE_PATH, headers=ADMIN_HEADERS)
                assert_problem(forged, 403)
                continue
            assert_problem(without, 401)
            operation = schema["paths"][PROFILE_PATH]["get"]
            for status in ("401", "403", "409", "422"):
                assert "application/problem+json" in operation["responses"][status]["content"]
            assert "application/json" in operation["responses"]["200"]["content"]
        assert app.state.flags is not None  # the shop is the real one, fully started


async def test_a_profile_of_a_real_service_is_valid_speedscope(sqlite_shop: Shop) -> None:
    async with sqlite_shop.client("products") as client:
        response = await client.get(PROFILE_PATH, params={"seconds": 1}, headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    document = orjson.loads(response.content)
    assert "products (pid" in document["name"]
    speedscope_frames(document)


async def test_the_cpu_burn_fault_is_found_by_name_in_the_profile(sqlite_shop: Shop) -> None:
    """The puzzle's answer: with ``cpu_burn`` on, products' profile names the hot function."""
    switch_on(sqlite_shop, "cpu_burn", "products", "15")
    products = sqlite_shop.client("products")
    gateway = sqlite_shop.client()
    async with products, gateway:
        profiling = asyncio.create_task(
            products.get(PROFILE_PATH, params={"seconds": 1}, headers=ADMIN_HEADERS)
        )
        await _until_recording()
        while PROCESS_PROFILER.recording:  # shoppers browse while it samples
            assert (await gateway.get("/api/v1/products/1")).status_code == 200
            # In-process, with SQLite called on the loop, a request through the ASGI
            # transports may never suspend: let the loop run the profile's own timer.
            await asyncio.sleep(0)
        response = await profiling
    assert response.status_code == 200, response.text
    assert "burn_cpu_for_fault" in speedscope_frames(response.json())
    switch_off(sqlite_shop, "cpu_burn")
