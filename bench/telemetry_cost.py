"""CPU cost per request of each telemetry part, measured in-process.

Drives a minimal FastAPI endpoint (a validated POST, as in shared PERF-NOTES)
through MiniShop's ObservabilityMiddleware with one part switched on at a time,
calling the ASGI app directly so no server or client cost blurs the figures.
Variants run interleaved, several rounds, and the median CPU µs per request is
printed, with the difference to the bare app.

    .venv/bin/python bench/telemetry_cost.py [--requests 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from collections.abc import Callable, Sequence

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracer
from pydantic import BaseModel

from minishop.observability.export import BoundedExportProcessor
from minishop.observability.logging import configure_logging, get_logger
from minishop.observability.metrics import ServiceMetrics
from minishop.observability.middleware import ObservabilityMiddleware
from minishop.observability.otlp_encoding import encode_trace_request
from minishop.observability.telemetry import Telemetry
from minishop.platform.service_app import NATIVE_TELEMETRY_OFF

BODY = b'{"user_id": 1, "items": [{"product_id": 1, "quantity": 2}]}'


class Item(BaseModel):
    product_id: int
    quantity: int


class Order(BaseModel):
    user_id: int
    items: list[Item]


class EncodingExporter(SpanExporter):
    """Pays what the OTLP exporter pays on this process (protobuf encoding), sends nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        encode_trace_request(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def endpoint_app() -> FastAPI:
    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)

    @app.post("/order", status_code=201)
    async def create(order: Order) -> dict[str, object]:
        return {"order_id": 1, "status": "pending", "items": len(order.items)}

    return app


def variant(name: str, *, logs: bool, tracing: str) -> tuple[str, Callable[[], object]]:
    def build() -> object:
        configure_logging("bench", "INFO" if logs else "WARNING", stream=io.BytesIO())
        metrics = ServiceMetrics("bench")
        provider = None
        if tracing != "off":
            provider = TracerProvider()
            if tracing == "exported":
                provider.add_span_processor(
                    BoundedExportProcessor(
                        EncodingExporter(),
                        exported=metrics.spans_exported,
                        dropped=metrics.spans_dropped,
                        service="bench",
                    )
                )
        telemetry = Telemetry(
            service="bench",
            metrics=metrics,
            tracer_provider=provider,
            tracer=provider.get_tracer("bench") if provider else NoOpTracer(),
            logger=get_logger("minishop.access"),
        )
        return ObservabilityMiddleware(endpoint_app(), telemetry=telemetry)

    return name, build


VARIANTS = [
    ("bare app", lambda: endpoint_app()),
    variant("+ metrics", logs=False, tracing="off"),
    variant("+ metrics + log line", logs=True, tracing="off"),
    variant("+ metrics + span (not exported)", logs=False, tracing="recorded"),
    variant("+ metrics + span exported (OTLP encode)", logs=False, tracing="exported"),
    variant("all: metrics + log + exported span", logs=True, tracing="exported"),
]


# Each telemetry part alone: the variant that adds it, minus the one just without it.
PARTS = {
    "metrics (RED, in-flight)": ("+ metrics", "bare app"),
    "log line (JSON access line)": ("+ metrics + log line", "+ metrics"),
    "span (created, not exported)": ("+ metrics + span (not exported)", "+ metrics"),
    "span export (OTLP protobuf encoding)": (
        "+ metrics + span exported (OTLP encode)",
        "+ metrics + span (not exported)",
    ),
}


async def drive(app: object, requests: int) -> float:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/order", "raw_path": b"/order", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8080),
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
    }  # fmt: skip

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        return None

    for _ in range(200):  # warm-up
        await app(dict(scope), receive, send)  # type: ignore[operator]
    started = time.process_time()
    for _ in range(requests):
        await app(dict(scope), receive, send)  # type: ignore[operator]
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name, _ in VARIANTS}
    for _ in range(args.rounds):
        for name, build in VARIANTS:
            samples[name].append(asyncio.run(drive(build(), args.requests)))
    median = {name: statistics.median(values) for name, values in samples.items()}
    bare = median["bare app"]
    print(f"{'variant':<42} {'CPU µs/req':>11} {'Δ vs bare':>10}")
    for name, _ in VARIANTS:
        print(f"{name:<42} {median[name]:>11.1f} {median[name] - bare:>+10.1f}")
    print()
    print("each part alone (the difference its switch makes):")
    for part, (with_it, without) in PARTS.items():
        print(f"  {part:<40} {median[with_it] - median[without]:>+8.1f} µs/req")


if __name__ == "__main__":
    main()
