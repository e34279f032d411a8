"""The fault middleware's rules: which requests a fault touches, the jitter, the burn."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from minishop.flags import FlagSource, Latency
from minishop.platform import fault_injection
from minishop.platform.cpu_burn import burn_cpu_for_fault
from minishop.platform.fault_injection import (
    FaultInjectionMiddleware,
    FaultPlan,
    is_exempt,
    latency_ms,
)
from minishop.platform.readiness import FAULT_ERROR, ReadinessFault, fault_flag_check
from tests.support.flags import clear_flag, write_flag


@pytest.mark.parametrize(
    "path", ["/metrics", "/health/live", "/health/ready", "/admin/flags", "/debug/pprof/profile"]
)
def test_probes_admin_and_profiling_are_never_slowed(path: str) -> None:
    assert is_exempt(path)


@pytest.mark.parametrize(
    "path", ["/api/v1/products", "/order", "/metrics/x", "/healthz", "/administrator", "/"]
)
def test_every_other_path_can_be(path: str) -> None:
    assert not is_exempt(path)


def test_jitter_is_uniform_around_the_latency_and_never_negative() -> None:
    rng = random.Random(11)
    latency = Latency("products", None, ms=10, jitter_ms=50)
    delays = [latency_ms(latency, rng) for _ in range(2000)]
    assert min(delays) == 0.0  # draws below -10 ms are clamped, not negative
    assert max(delays) <= 60.0 and max(delays) > 50.0
    assert len(set(delays)) > 1000
    assert latency_ms(Latency("products", None, ms=30, jitter_ms=0), rng) == 30


def test_the_burn_spends_at_least_the_cpu_time_asked_on_this_thread() -> None:
    started = time.thread_time()
    spent = burn_cpu_for_fault(20)
    assert time.thread_time() - started >= spent >= 0.020
    assert burn_cpu_for_fault(0) == 0.0


def source_with(tmp_path: Path, service: str, *flags: tuple[str, ...]) -> FlagSource:
    path = tmp_path / "flags.json"
    clear_flag(path)
    for name, *value in flags:
        write_flag(path, name, *value)
    source = FlagSource(path, service=service)
    source.refresh()
    return source


def test_a_plan_only_for_the_service_the_flags_name(tmp_path: Path) -> None:
    source = source_with(
        tmp_path, "orders", ("service_latency", "products", "100"), ("cpu_burn", "users", "5")
    )
    assert FaultPlan.for_service(source.active, "orders") is None  # nothing on the hot path
    products = FaultPlan.for_service(source.active, "products")
    assert products is not None and products.burn is None
    assert products.latency == Latency("products", None, 100.0, 0.0)
    users = FaultPlan.for_service(source.active, "users")
    assert users is not None and users.latency is None and users.burn.ms == 5.0


class Recorder:
    """A trivial ASGI app that notes each path it serves."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.paths.append(scope["path"])


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def served(
    middleware: FaultInjectionMiddleware, provider: TracerProvider, path: str
) -> list[tuple[str, object]]:
    """(flag, value) of each evaluation event on the span ``path`` was served in."""
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(path) as span:
        scope = {"type": "http", "method": "GET", "path": path, "headers": []}
        await middleware(scope, None, None)  # type: ignore[arg-type]
    return [
        (event.attributes["feature_flag.key"], event.attributes["feature_flag.result.value"])
        for event in span.events  # type: ignore[attr-defined]
    ]


async def test_latency_on_a_route_touches_that_route_of_that_service_only(
    tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, _ = spans
    source = source_with(tmp_path, "products", ("service_latency", "products/api/v1/products", "1"))
    app = Recorder()
    middleware = FaultInjectionMiddleware(app, flags=source, service="products")
    slowed = [("service_latency", 1.0)]
    assert await served(middleware, provider, "/api/v1/products") == slowed
    assert await served(middleware, provider, "/api/v1/products/3") == slowed
    assert await served(middleware, provider, "/api/v1/orders") == []
    assert await served(middleware, provider, "/health/ready") == []
    assert await served(middleware, provider, "/admin/flags") == []
    other = FaultInjectionMiddleware(app, flags=source, service="orders")
    assert await served(other, provider, "/api/v1/products") == []
    assert len(app.paths) == 6  # every request still reached the application


async def test_the_middleware_follows_the_flags_as_they_change(
    tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, _ = spans
    source = source_with(tmp_path, "orders")
    middleware = FaultInjectionMiddleware(Recorder(), flags=source, service="orders")
    assert await served(middleware, provider, "/order") == []

    write_flag(source.path, "cpu_burn", "orders", "1")
    source.refresh()
    assert await served(middleware, provider, "/order") == [("cpu_burn", 1.0)]

    write_flag(source.path, "service_latency", "orders/order", "0", "2")
    source.refresh()
    events = await served(middleware, provider, "/order")
    assert [flag for flag, _ in events] == ["service_latency", "cpu_burn"]
    assert 0.0 <= events[0][1] <= 2.0

    clear_flag(source.path)
    source.refresh()
    assert await served(middleware, provider, "/order") == []


async def test_lifespan_scopes_pass_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    burns: list[float] = []
    monkeypatch.setattr(fault_injection, "burn_cpu_for_fault", burns.append)
    source = source_with(tmp_path, "users", ("cpu_burn", "users", "5"))
    app = Recorder()
    middleware = FaultInjectionMiddleware(app, flags=source, service="users")
    await middleware({"type": "lifespan", "path": "/"}, None, None)  # type: ignore[arg-type]
    assert burns == [] and app.paths == ["/"]
    await middleware({"type": "http", "path": "/x", "headers": []}, None, None)  # type: ignore[arg-type]
    assert burns == [5.0]


async def test_the_readiness_check_fails_only_for_the_service_named(tmp_path: Path) -> None:
    source = source_with(tmp_path, "users", ("readiness_failure", "users"))
    await fault_flag_check(source, "products")()
    with pytest.raises(ReadinessFault, match=FAULT_ERROR):
        await fault_flag_check(source, "users")()
    clear_flag(source.path, "readiness_failure")
    source.refresh()
    await fault_flag_check(source, "users")()
