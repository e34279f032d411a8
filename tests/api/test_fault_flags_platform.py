"""The faults every service can suffer (CONTRACT §9), seen in the shop's own telemetry.

For each flag, on then off: ``service_latency`` shifts ``request_duration_seconds`` and marks
the span; ``cpu_burn`` spends CPU per request on the named service and marks the span;
``readiness_failure`` turns ``/health/ready`` and the ``service_ready`` gauge. Only lower
bounds on time are asserted (a sleep or a burn never ends early); that a request was *not*
slowed shows as the absence of the ``feature_flag.evaluation`` event on its span.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from minishop.manifest import MANIFEST
from tests.support.flags import switch_off, switch_on
from tests.support.helpers import create_product, wait_until_async
from tests.support.shop import Shop, running_shop

EVENT = "feature_flag.evaluation"


async def metric_samples(shop: Shop, service: str, name: str) -> list:
    """The samples called ``name`` on ``service``'s ``/metrics``."""
    async with shop.client(service) as client:
        text = (await client.get("/metrics")).text
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


async def metric(shop: Shop, service: str, name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels`` (0 when there is none)."""
    matching = [
        sample.value
        for sample in await metric_samples(shop, service, name)
        if all(sample.labels.get(key) == value for key, value in labels.items())
    ]
    assert len(matching) <= 1, (name, labels, matching)
    return matching[0] if matching else 0.0


async def latency_histogram(shop: Shop, service: str, route: str) -> tuple[float, float, float]:
    """(count, sum, observations ≤ 100 ms) of ``GET route`` on ``service``."""
    labels = {"method": "GET", "route": route}
    return (
        await metric(shop, service, "request_duration_seconds_count", **labels),
        await metric(shop, service, "request_duration_seconds_sum", **labels),
        await metric(shop, service, "request_duration_seconds_bucket", le="0.1", **labels),
    )


def trace_id_of(response: httpx.Response) -> int:
    """The trace the gateway answered from (its W3C ``traceresponse`` header)."""
    return int(response.headers["traceresponse"].split("-")[1], 16)


def server_span(shop: Shop, trace_id: int, service: str) -> ReadableSpan:
    spans = [
        span
        for span in shop.finished_spans()
        if span.context.trace_id == trace_id
        and span.kind == SpanKind.SERVER
        and span.resource.attributes["service.name"] == service
    ]
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def flag_events(span: ReadableSpan, key: str) -> list[dict]:
    return [
        dict(event.attributes or {})
        for event in span.events
        if event.name == EVENT and (event.attributes or {}).get("feature_flag.key") == key
    ]


async def test_service_latency_slows_only_the_named_route_and_shows_on_its_span(
    sqlite_shop: Shop,
) -> None:
    route = "/api/v1/products/{product_id}"
    async with sqlite_shop.client() as client:
        slowed = await create_product(client, "LAT-1", 10)
        other = await create_product(client, "LAT-2", 10)
        # The flag's route is a path prefix: the other product's path must not start with it.
        assert not str(other).startswith(str(slowed))

        switch_on(sqlite_shop, "service_latency", f"products/api/v1/products/{slowed}", "200")
        count, total, fast = await latency_histogram(sqlite_shop, "products", route)
        response = await client.get(f"/api/v1/products/{slowed}")
        assert response.status_code == 200
        after_count, after_total, after_fast = await latency_histogram(
            sqlite_shop, "products", route
        )
        assert after_count == count + 1
        assert after_total - total >= 0.2 * 0.99  # the added 200 ms is in the histogram
        assert after_fast == fast  # ... and out of the ≤ 100 ms bucket
        slowed_trace = trace_id_of(response)

        untouched = await client.get(f"/api/v1/products/{other}")
        assert untouched.status_code == 200
        switch_off(sqlite_shop, "service_latency")
        healed = await client.get(f"/api/v1/products/{slowed}")
        assert healed.status_code == 200

    [event] = flag_events(server_span(sqlite_shop, slowed_trace, "products"), "service_latency")
    assert event["feature_flag.variant"] == "on"
    assert event["feature_flag.result.value"] == 200.0
    # The gateway waited (its own span is longer) but was not itself the slowed service.
    assert not flag_events(server_span(sqlite_shop, slowed_trace, "gateway"), "service_latency")
    for response in (untouched, healed):
        span = server_span(sqlite_shop, trace_id_of(response), "products")
        assert not flag_events(span, "service_latency"), span.name


async def test_service_latency_on_a_whole_service_leaves_probes_and_others_alone(
    sqlite_shop: Shop,
) -> None:
    switch_on(sqlite_shop, "service_latency", "users", "150", "50")
    async with sqlite_shop.client() as client:
        users = await client.get("/api/v1/users", params={"limit": 1})
        products = await client.get("/api/v1/products", params={"limit": 1})
    async with sqlite_shop.client("users") as direct:
        for probe in ("/health/live", "/health/ready", "/metrics"):
            assert (await direct.get(probe)).status_code == 200
    switch_off(sqlite_shop)

    [event] = flag_events(server_span(sqlite_shop, trace_id_of(users), "users"), "service_latency")
    assert 100.0 <= event["feature_flag.result.value"] <= 200.0  # 150 ± 50 ms
    assert not flag_events(server_span(sqlite_shop, trace_id_of(products), "products"), EVENT)
    count = await metric(
        sqlite_shop, "users", "request_duration_seconds_count", route="/api/v1/users"
    )
    total = await metric(
        sqlite_shop, "users", "request_duration_seconds_sum", route="/api/v1/users"
    )
    assert count == 1 and total >= 0.1 * 0.99


async def test_cpu_burn_spends_cpu_per_request_on_the_named_service(sqlite_shop: Shop) -> None:
    requests, burn_ms = 4, 50
    async with sqlite_shop.client() as client:
        switch_on(sqlite_shop, "cpu_burn", "products", str(burn_ms))
        process_cpu = await metric(sqlite_shop, "products", "process_cpu_seconds_total")
        thread_cpu = time.thread_time()  # the in-process shop serves on this very thread
        burned = [await client.get("/api/v1/products/1") for _ in range(requests)]
        thread_spent = time.thread_time() - thread_cpu
        process_spent = (
            await metric(sqlite_shop, "products", "process_cpu_seconds_total") - process_cpu
        )
        users = await client.get("/api/v1/users", params={"limit": 1})
        switch_off(sqlite_shop, "cpu_burn")
        healed = await client.get("/api/v1/products/1")

    expected = requests * burn_ms / 1000
    assert thread_spent >= expected
    # process_cpu_seconds_total counts in clock ticks (10 ms): allow one tick each side.
    assert process_spent >= expected - 0.02
    for response in burned:
        assert response.status_code == 200
        [event] = flag_events(
            server_span(sqlite_shop, trace_id_of(response), "products"), "cpu_burn"
        )
        assert event["feature_flag.variant"] == "on"
        assert event["feature_flag.result.value"] == float(burn_ms)
        assert not flag_events(server_span(sqlite_shop, trace_id_of(response), "gateway"), EVENT)
    assert not flag_events(server_span(sqlite_shop, trace_id_of(users), "users"), EVENT)
    assert not flag_events(server_span(sqlite_shop, trace_id_of(healed), "products"), EVENT)


async def readiness(shop: Shop, service: str) -> tuple[int, dict, float]:
    """(status of /health/ready, its checks, service_ready on /metrics right after)."""
    async with shop.client(service) as client:
        ready = await client.get("/health/ready")
    gauge = await metric(shop, service, "service_ready")
    return ready.status_code, ready.json()["checks"], gauge


async def test_readiness_failure_fails_readiness_of_that_service_only(tmp_path: Path) -> None:
    async with running_shop(tmp_path) as shop:
        assert (await readiness(shop, "users"))[0::2] == (200, 1.0)

        switch_on(shop, "readiness_failure", "users")
        status, checks, gauge = await readiness(shop, "users")
        assert (status, gauge) == (503, 0.0)
        assert checks["fault_flag"]["status"] == "fail"
        assert checks["fault_flag"]["error"] == "readiness_failure flag is on"
        assert checks["database"]["status"] == "pass"
        async with shop.client("users") as users:
            assert (await users.get("/health/live")).status_code == 200
        for other in ("products", "gateway"):  # the gateway checks that users is alive
            assert (await readiness(shop, other))[0::2] == (200, 1.0), other

        switch_off(shop, "readiness_failure")
        status, checks, gauge = await readiness(shop, "users")
        assert (status, gauge) == (200, 1.0)
        assert checks["fault_flag"]["status"] == "pass"


async def test_service_ready_follows_the_periodic_probe_without_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prometheus scrapes /metrics only: the gauge must move on its own."""
    prefix = MANIFEST.service("users").env_prefix
    monkeypatch.setenv(f"{prefix}READINESS_PROBE_INTERVAL_SECONDS", "0.05")
    async with running_shop(tmp_path) as shop:

        def gauge_is(value: float):
            async def check() -> bool:
                return await metric(shop, "users", "service_ready") == value

            return check

        await wait_until_async(gauge_is(1.0), timeout=10, interval=0.05, message="users ready")
        switch_on(shop, "readiness_failure", "users")
        await wait_until_async(
            gauge_is(0.0), timeout=10, interval=0.05, message="service_ready drops to 0"
        )
        switch_off(shop, "readiness_failure")
        await wait_until_async(
            gauge_is(1.0), timeout=10, interval=0.05, message="service_ready back to 1"
        )
