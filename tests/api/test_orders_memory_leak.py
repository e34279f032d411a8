"""``orders_memory_leak KB``: each orders request keeps memory it never frees.

The memory is really written, so the process's resident set (``process_resident_memory_bytes``
on orders' ``/metrics``) grows; switched off, the growth stops (nothing is given back).
In-process, the five services share one process: the gauge is that process's, and the
leak is the only thing here that keeps tens of MiB.
"""

from __future__ import annotations

import io

import pytest

from minishop.observability.logging import configure_logging, get_logger
from minishop.orders.adapters import memory_leak
from tests.support.flags import switch_off, switch_on
from tests.support.observed import flag_events, log_lines, value
from tests.support.shop import Shop

KIB_PER_REQUEST = 512
REQUESTS = 48
LEAKED = KIB_PER_REQUEST * 1024 * REQUESTS  # 24 MiB


async def test_the_leak_grows_orders_memory_while_on_and_stops_when_off(
    sqlite_shop: Shop,
) -> None:
    async with sqlite_shop.client("orders") as orders:

        async def resident() -> float:
            text = (await orders.get("/metrics")).text
            return value(text, "process_resident_memory_bytes")

        kept_before = memory_leak.retained_bytes()
        switch_on(sqlite_shop, "orders_memory_leak", str(KIB_PER_REQUEST))
        rss_before = await resident()
        for _ in range(REQUESTS):
            assert (await orders.get("/api/v1/orders")).status_code == 200
        rss_on = await resident()
        assert memory_leak.retained_bytes() - kept_before == LEAKED
        # Resident, not only reserved: most of it shows in the gauge (other memory may be
        # freed meanwhile, hence not all of it).
        assert rss_on - rss_before >= 0.75 * LEAKED, (rss_before, rss_on)

        switch_off(sqlite_shop, "orders_memory_leak")
        for _ in range(REQUESTS):
            assert (await orders.get("/api/v1/orders")).status_code == 200
        assert memory_leak.retained_bytes() - kept_before == LEAKED  # no growth any more
        for _ in range(3):  # /metrics and the probes never leak, even while on
            switch_on(sqlite_shop, "orders_memory_leak", str(KIB_PER_REQUEST))
            await orders.get("/metrics")
            await orders.get("/health/live")
        assert memory_leak.retained_bytes() - kept_before == LEAKED
        switch_off(sqlite_shop, "orders_memory_leak")

    servers = [
        span
        for span in sqlite_shop.finished_spans()
        if span.name == "GET /api/v1/orders"
        and span.resource.attributes["service.name"] == "orders"
    ]
    leaking = [span for span in servers if flag_events(span, "orders_memory_leak")]
    assert len(leaking) == REQUESTS
    (event,) = flag_events(leaking[0], "orders_memory_leak")
    assert event["feature_flag.result.value"] == KIB_PER_REQUEST
    assert len(servers) == 2 * REQUESTS


def test_the_leak_stops_at_its_cap_and_says_so_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.BytesIO()
    configure_logging("orders", "INFO", stream=stream)
    monkeypatch.setattr(memory_leak, "_log", get_logger("minishop.orders"))
    # The cap just above what is kept now: 3 KiB of room, not a real GiB.
    monkeypatch.setattr(memory_leak, "MAX_RETAINED_BYTES", memory_leak.retained_bytes() + 3072)
    assert memory_leak.retain(2) == 2048
    assert memory_leak.retain(2) == 1024  # what room is left
    assert memory_leak.retain(2) == 0
    assert memory_leak.retain(1) == 0
    warnings = [
        line
        for line in log_lines(stream.getvalue().decode())
        if "reached its cap" in line.get("message", "")
    ]
    assert len(warnings) == 1, warnings
    assert warnings[0]["level"] == "warning"
