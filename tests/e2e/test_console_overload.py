"""An overloaded console costs spans, never the shop's requests.

The console's queue is made tiny and its receiver flooded from the side while orders go
through the gateway: the receiver answers 429 with ``Retry-After`` (the OTLP specification's
back-pressure), counts what it refused, and every order still succeeds.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import shop_processes

pytestmark = pytest.mark.e2e

BATCH_SPANS = 512


def _batch() -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="flood"))
    )
    scope = resource_spans.scope_spans.add()
    for index in range(BATCH_SPANS):
        span = scope.spans.add()
        span.trace_id = os.urandom(16)
        span.span_id = os.urandom(8)
        span.name = f"flood {index % 7}"
        span.kind = 2
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + index
        span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
    return request.SerializeToString()


def _counted(console: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{console}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
        and all(sample.labels.get(key) == value for key, value in labels.items())
    )


def test_an_overloaded_console_answers_429_and_the_shop_keeps_serving(tmp_path: Path) -> None:
    env = {"MINISHOP_CONSOLE_QUEUE_ITEMS": "100", "PAYMENTS_FAILURE_RATE": "0"}
    with shop_processes(tmp_path, env, stack=True) as shop:
        body = _batch()
        answers: Counter[int] = Counter()
        retry_after: set[str | None] = set()
        stop = threading.Event()
        counting = threading.Lock()

        def flood() -> None:
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    response = client.post(
                        f"{shop.urls['otlp']}/v1/traces",
                        content=body,
                        headers={"content-type": "application/x-protobuf"},
                    )
                    with counting:
                        answers[response.status_code] += 1
                        if response.status_code == 429:
                            retry_after.add(response.headers.get("retry-after"))

        flooders = [threading.Thread(target=flood, daemon=True) for _ in range(4)]
        for thread in flooders:
            thread.start()
        try:
            with httpx.Client(base_url=shop.urls["gateway"], timeout=10) as client:
                orders = [
                    client.post(
                        "/order",
                        json={"user_id": 1, "items": [{"product_id": 3, "quantity": 1}]},
                    )
                    for _ in range(20)
                ]
        finally:
            stop.set()
            for thread in flooders:
                thread.join(timeout=15)
        assert [order.status_code for order in orders] == [201] * 20
        assert answers[429] > 0, answers
        assert set(answers) <= {200, 429}, answers
        assert retry_after and all(value and value.isdigit() for value in retry_after)
        console = shop.urls["console"]
        # Refused requests are counted (the services' own exports, refused too, among them);
        # their spans only when they were decoded before the queue filled.
        refused = _counted(console, "console_otlp_requests_total", signal="spans", status="429")
        assert refused >= answers[429]
        accepted = _counted(console, "console_otlp_items_total", signal="spans", outcome="accepted")
        assert accepted >= answers[200] * BATCH_SPANS
