"""The OTLP/HTTP receiver in a real uvicorn server: the SDK's exporters, OTLP JSON, refusals."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from minishop.console.adapters.metrics import ConsoleMetrics
from minishop.console.adapters.receiver import build_receiver_app
from minishop.console.adapters.sqlite_store import SqliteTelemetryStore
from minishop.console.application.ingest import Ingest
from minishop.console.application.ports import StoreCounts, TraceQuery
from minishop.console.domain.records import LogRecord, SpanRecord
from minishop.observability import ServiceMetrics
from tests.console.conftest import ServerThread
from tests.support.helpers import wait_until

MAX_BODY = 64 * 1024
JSON = {"content-type": "application/json"}
PROTOBUF = {"content-type": "application/x-protobuf"}


@dataclass
class Console:
    url: str
    store: SqliteTelemetryStore
    ingest: Ingest
    metrics: ServiceMetrics

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, {"service": "console", **labels})
        return value or 0.0


@pytest.fixture
def console(sqlite_store: SqliteTelemetryStore) -> Iterator[Console]:
    store = sqlite_store
    metrics = ServiceMetrics("console", restarts=0)
    counting = ConsoleMetrics(metrics)
    ingest = Ingest(store, max_items=10_000, retention_interval_seconds=3600, counters=counting)
    counting.watch(lambda: ingest.queued_items, store.counts)
    ingest.start()
    app = build_receiver_app(ingest, max_body_bytes=MAX_BODY, metrics=counting)
    try:
        with ServerThread(app) as url:
            yield Console(url, store, ingest, metrics)
    finally:
        ingest.stop()


def otlp_json_trace(trace: str = "5b8efff798038103d269b633813fc60c", spans: int = 1) -> dict:
    """The OTLP specification's example request: hex ids, int64 as strings, enums as ints."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "my.library", "version": "1.0.0"},
                        "spans": [
                            {
                                "traceId": trace,
                                "spanId": f"{n + 1:016x}",
                                "parentSpanId": "",
                                "name": "I'm a server span",
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "kind": 2,
                                "attributes": [
                                    {"key": "my.span.attr", "value": {"stringValue": "some value"}},
                                    {"key": "retries", "value": {"intValue": "3"}},
                                ],
                                "status": {"code": 1},
                                "somethingNew": {"ignored": True},
                            }
                            for n in range(spans)
                        ],
                    }
                ],
            }
        ]
    }


def test_the_sdk_exporters_spans_and_logs_are_stored(console: Console) -> None:
    resource = Resource.create({"service.name": "orders", "service.namespace": "minishop"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{console.url}/v1/traces"))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(
            OTLPLogExporter(endpoint=f"{console.url}/v1/logs", compression=Compression.Gzip)
        )
    )
    logger = logger_provider.get_logger("tests")
    tracer = tracer_provider.get_tracer("tests")
    try:
        with tracer.start_as_current_span("CreateOrder", kind=SpanKind.SERVER) as root:
            root.set_attribute("order.id", 42)
            with tracer.start_as_current_span("DeductInventory") as child:
                child.add_event("reserved", {"product.id": 7})
                child.set_status(Status(StatusCode.ERROR, "out of stock"))
                context = child.get_span_context()
                logger.emit(
                    ApiLogRecord(
                        trace_id=context.trace_id,
                        span_id=context.span_id,
                        severity_text="WARN",
                        severity_number=SeverityNumber.WARN,
                        body="payment failed: card declined",
                        attributes={"order.id": 42},
                    )
                )
        trace = f"{root.get_span_context().trace_id:032x}"
        child_id = f"{child.get_span_context().span_id:016x}"
    finally:
        tracer_provider.shutdown()
        logger_provider.shutdown()

    spans = wait_until(
        lambda: len(spans := console.store.get_trace(trace)) == 2 and spans,
        timeout=10,
        interval=0.02,
        message="the two spans stored",
    )
    server, deduct = spans
    assert (server.name, server.kind, server.service, server.parent_span_id) == (
        "CreateOrder",
        "server",
        "orders",
        "",
    )
    assert server.attributes == {"order.id": 42}
    assert server.resource["service.namespace"] == "minishop"
    assert (deduct.kind, deduct.status, deduct.status_message) == (
        "internal",
        "error",
        "out of stock",
    )
    assert deduct.parent_span_id == server.span_id and deduct.span_id == child_id
    assert deduct.events[0]["name"] == "reserved"
    assert deduct.events[0]["attributes"] == {"product.id": 7}
    (summary,) = console.store.search_traces(TraceQuery(attribute=("order.id", "42")))
    assert (summary.trace_id, summary.root_name, summary.error) == (trace, "CreateOrder", True)

    (line,) = wait_until(
        lambda: console.store.trace_logs(trace), timeout=10, interval=0.02, message="the log line"
    )
    record = line.record
    assert (record.message, record.level, record.service) == (
        "payment failed: card declined",
        "warning",
        "orders",
    )
    assert (record.trace_id, record.span_id) == (trace, child_id)
    assert console.sample("console_otlp_items_total", signal="spans", outcome="accepted") == 2
    assert console.sample("console_otlp_items_total", signal="logs", outcome="accepted") == 1
    assert console.sample("console_otlp_requests_total", signal="logs", status="200") == 1
    assert console.sample("console_stored_items", signal="spans") == 2
    assert console.sample("console_stored_items", signal="traces") == 1


def test_an_otlp_json_request_is_answered_in_json_and_stored(console: Console) -> None:
    response = httpx.post(f"{console.url}/v1/traces", json=otlp_json_trace(), headers=JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    (span,) = wait_until(
        lambda: console.store.get_trace("5b8efff798038103d269b633813fc60c"),
        timeout=10,
        interval=0.02,
        message="the JSON span stored",
    )
    assert (span.service, span.kind, span.status, span.span_id) == (
        "my.service",
        "server",
        "ok",
        "0000000000000001",
    )
    assert span.attributes == {"my.span.attr": "some value", "retries": 3}
    assert span.end_ns - span.start_ns == 1_000_000_000

    logs = {
        "resourceLogs": [{"scopeLogs": [{"logRecords": [{
            "timeUnixNano": 1544712660300000000, "severityNumber": 17,
            "body": {"stringValue": "boom"}, "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "0000000000000001",
            "attributes": [{"key": "retry", "value": {"boolValue": True}}],
        }]}]}]
    }  # fmt: skip
    response = httpx.post(f"{console.url}/v1/logs", json=logs, headers=JSON)
    assert response.status_code == 200, response.text
    (line,) = wait_until(
        lambda: console.store.trace_logs("5b8efff798038103d269b633813fc60c"),
        timeout=10,
        interval=0.02,
        message="the JSON log stored",
    )
    assert (line.record.service, line.record.level, line.record.message) == (
        "unknown",
        "error",
        "boom",
    )
    assert line.record.attributes == {"retry": True}


def _bomb() -> bytes:
    return gzip.compress(b"\0" * (MAX_BODY * 20))


@pytest.mark.parametrize(
    ("path", "content", "headers", "status"),
    [
        ("/v1/traces", b"\xff\xff\xff\xff", PROTOBUF, 400),
        ("/v1/logs", b"{not json", JSON, 400),
        (
            "/v1/traces",
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}',
            JSON,
            400,
        ),
        (
            "/v1/traces",
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0102", "spanId": "01"}]}]}]}',
            JSON,
            400,
        ),
        (
            "/v1/traces",
            gzip.compress(b"garbage")[:-6],
            {**PROTOBUF, "content-encoding": "gzip"},
            400,
        ),
        ("/v1/traces", b"x" * (MAX_BODY + 1), PROTOBUF, 413),
        ("/v1/logs", _bomb(), {**PROTOBUF, "content-encoding": "gzip"}, 413),
        ("/v1/traces", b"{}", {"content-type": "text/plain"}, 415),
        ("/v1/traces", b"{}", {}, 415),
        ("/v1/traces", b"{}", {**JSON, "content-encoding": "br"}, 415),
    ],
    ids=[
        "protobuf",
        "json",
        "hex",
        "id-size",
        "gzip",
        "too-large",
        "gzip-bomb",
        "text",
        "none",
        "brotli",
    ],
)
def test_bad_requests_get_a_4xx_and_store_nothing(
    console: Console, path: str, content: bytes, headers: dict, status: int
) -> None:
    response = httpx.post(f"{console.url}{path}", content=content, headers=headers)
    assert response.status_code == status, response.text
    if status in (400, 413):  # a google.rpc.Status in the request's encoding
        if headers.get("content-type") == PROTOBUF["content-type"]:
            detail = status_pb2.Status.FromString(response.content)
            assert len(detail.message) > 10
        else:
            assert len(response.json()["message"]) > 10
    assert console.ingest.queued_items == 0
    assert console.store.counts().spans == console.store.counts().logs == 0
    signal = path.rsplit("/", 1)[1].replace("traces", "spans")
    assert console.sample("console_otlp_requests_total", signal=signal, status=str(status)) == 1


def test_a_chunked_body_over_the_limit_is_stopped_while_reading(console: Console) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"\0" * 1024

    response = httpx.post(f"{console.url}/v1/traces", content=chunks(), headers=PROTOBUF)
    assert response.status_code == 413
    assert console.store.counts().spans == 0


def test_other_methods_and_paths(console: Console) -> None:
    assert httpx.get(f"{console.url}/v1/traces").status_code == 405
    assert httpx.put(f"{console.url}/v1/logs", content=b"").status_code == 405
    assert httpx.post(f"{console.url}/v1/metrics", content=b"", headers=PROTOBUF).status_code == 404
    about = httpx.get(f"{console.url}/")
    assert about.status_code == 200 and "OTLP/HTTP receiver" in about.text


class GatedStore:
    """A store whose writes wait for a gate, or fail while ``failing`` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.writing = threading.Event()
        self.failing = False
        self.spans: list[SpanRecord] = []

    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        self.writing.set()
        self.gate.wait(10)
        if self.failing:
            raise OSError("disk full")
        self.spans.extend(spans)

    def write_logs(self, logs: Sequence[LogRecord]) -> None:
        raise AssertionError("no logs here")

    def enforce_retention(self, now_ns: int) -> None:
        return None


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[str, GatedStore, Ingest, ServiceMetrics]]:
    store = GatedStore()
    metrics = ServiceMetrics("console", restarts=0)
    counting = ConsoleMetrics(metrics)
    ingest = Ingest(
        store,
        max_items=100,
        retention_interval_seconds=3600,
        counters=counting,  # type: ignore[arg-type]
        failure_backoff_seconds=3600,
    )
    counting.watch(lambda: ingest.queued_items, lambda: StoreCounts(len(store.spans), 0, 0))
    ingest.start()
    try:
        with ServerThread(
            build_receiver_app(ingest, max_body_bytes=MAX_BODY, metrics=counting)
        ) as url:
            yield url, store, ingest, metrics
    finally:
        store.gate.set()
        ingest.stop()


def post_spans(
    url: str, spans: int, trace: str = "5b8efff798038103d269b633813fc60c"
) -> httpx.Response:
    return httpx.post(f"{url}/v1/traces", json=otlp_json_trace(trace, spans), headers=JSON)


def test_a_full_queue_answers_429_with_retry_after(gated: tuple) -> None:
    url, store, _ingest, metrics = gated
    labels = {"service": "console", "signal": "spans"}

    def counted(name: str, **more: str) -> float | None:
        return metrics.registry.get_sample_value(name, {**labels, **more})

    assert post_spans(url, 1).status_code == 200
    wait_until(store.writing.is_set, timeout=10, interval=0.01, message="the writer busy")
    assert post_spans(url, 60).status_code == 200  # queued: the queue holds 100 items
    too_many = post_spans(url, 50)  # read and decoded, but 110 would not fit
    assert too_many.status_code == 429
    assert int(too_many.headers["retry-after"]) >= 1
    assert "queue is full" in too_many.json()["message"]
    assert counted("console_otlp_items_total", outcome="rejected") == 50
    assert post_spans(url, 40).status_code == 200  # fits exactly: now full
    unread = post_spans(url, 1)  # refused before its body is read: the items go uncounted
    assert unread.status_code == 429
    assert int(unread.headers["retry-after"]) >= 1
    assert counted("console_otlp_items_total", outcome="rejected") == 50
    assert counted("console_otlp_requests_total", status="429") == 2
    assert metrics.registry.get_sample_value("console_queue_items", {"service": "console"}) == 100
    store.gate.set()
    wait_until(lambda: len(store.spans) == 101, timeout=10, interval=0.01, message="all written")
    assert post_spans(url, 1).status_code == 200


def test_a_failing_store_drops_then_answers_503_and_the_writer_lives_on(gated: tuple) -> None:
    url, store, ingest, metrics = gated
    store.failing = True
    store.gate.set()
    assert post_spans(url, 3).status_code == 200
    labels = {"service": "console", "signal": "spans", "outcome": "dropped"}
    wait_until(
        lambda: metrics.registry.get_sample_value("console_otlp_items_total", labels) == 3,
        timeout=10,
        interval=0.01,
        message="the spans counted as dropped",
    )
    refused = post_spans(url, 1)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "3600"
    store.failing = False
    ingest.failure_backoff_seconds = 0
    ingest._failing_until = 0.0  # the back-off is over
    assert post_spans(url, 2).status_code == 200
    wait_until(lambda: len(store.spans) == 2, timeout=10, interval=0.01, message="written again")
