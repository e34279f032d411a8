"""The direct OTLP encoder writes exactly what the SDK's encoder writes, for every span shape."""

from __future__ import annotations

import marshal

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from minishop.export_worker import wire
from minishop.observability.otlp_encoding import encode_trace_request, flat_span


def _spans() -> list:
    exporter = InMemorySpanExporter()
    orders = TracerProvider(resource=Resource.create({"service.name": "orders", "n": 3}))
    users = TracerProvider(
        resource=Resource.create({"service.name": "users"}, schema_url="https://x/1.0")
    )
    for provider in (orders, users):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = orders.get_tracer("minishop", "0.1.0", schema_url="https://s", attributes={"a": 1})
    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    attributes = {
        "text": "POST /api/v1/orders", "empty": "", "yes": True, "no": False, "zero": 0,
        "count": 3, "negative": -42, "big": 2**62, "ratio": 0.25, "raw": b"\x00\x01",
        "names": ["a", "b"], "numbers": [1, -2, 3], "flags": [True, False], "floats": [1.5],
        "unicode": "caf\u00e9 \u2013 \u6771\u4eac",
    }  # fmt: skip
    with tracer.start_as_current_span(
        "POST /order", context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER, attributes=attributes,
    ) as server:  # fmt: skip
        with tracer.start_as_current_span("CreateOrder") as inner:
            inner.add_event("reserved", {"product.id": 7, "units": [1, 2]})
            inner.add_event("no attributes")
            inner.set_status(Status(StatusCode.ERROR, "out of stock: product 7"))
        client = tracer.start_span(
            "GET", kind=SpanKind.CLIENT, links=[Link(remote, {"why": "retry"}), Link(remote)]
        )
        client.set_status(Status(StatusCode.OK))
        client.end()
        server.set_attribute("http.response.status_code", 201)
    orders.get_tracer("minishop.database").start_span("SELECT orders").end()
    users.get_tracer("minishop").start_span("GET /api/v1/users/{user_id}").end()
    for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL):
        orders.get_tracer("minishop").start_span(f"kind {kind.name}", kind=kind).end()
    return list(exporter.get_finished_spans())


def test_the_bytes_decode_to_the_sdk_encoders_message() -> None:
    spans = _spans()
    ours = ExportTraceServiceRequest.FromString(encode_trace_request(spans))
    official = encode_spans(spans)
    assert ours == official
    assert encode_trace_request(spans) == official.SerializeToString(deterministic=True)


def test_the_exporter_process_path_writes_the_same_bytes() -> None:
    """Flattened in the service, marshalled down the pipe, encoded in the worker: same bytes."""
    spans = _spans()
    shipped = marshal.loads(marshal.dumps([flat_span(span) for span in spans]))
    assert wire.encode_spans(shipped) == encode_spans(spans).SerializeToString(deterministic=True)


def test_one_span_and_no_span() -> None:
    spans = _spans()[:1]
    assert ExportTraceServiceRequest.FromString(encode_trace_request(spans)) == encode_spans(spans)
    assert encode_trace_request([]) == b""


def test_the_exporter_sends_the_direct_encoding_to_a_real_receiver() -> None:
    from minishop.observability.otlp_exporter import DirectOTLPSpanExporter
    from tests.support.otlp import OtlpReceiver

    spans = _spans()
    with OtlpReceiver() as receiver:
        exporter = DirectOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces", timeout=5)
        assert exporter.encodes_directly, "the installed SDK still offers its HTTP client"
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
    received = {(span.service, span.name) for span in receiver.spans}
    assert ("orders", "POST /order") in received
    assert ("users", "GET /api/v1/users/{user_id}") in received
    assert len(receiver.spans) == len(spans)
