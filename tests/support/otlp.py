"""A small OTLP/HTTP receiver for tests: decodes the spans and log records services export."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.helpers import wait_until


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, object]
    status_code: int
    scope: str = ""  # the instrumentation scope: which tracer made the span


@dataclass(frozen=True)
class ReceivedLog:
    resource: dict[str, object]
    body: str
    severity_text: str
    trace_id: str
    span_id: str
    attributes: dict[str, object]


def _value(any_value) -> object:
    field = any_value.WhichOneof("value")
    if field == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    return getattr(any_value, field) if field else None


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.logs: list[ReceivedLog] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.endswith("/v1/logs"):
                    logs = ExportLogsServiceRequest()
                    logs.ParseFromString(body)
                    receiver._collect_logs(logs)
                    payload = ExportLogsServiceResponse().SerializeToString()
                else:
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver._collect(request)
                    payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _collect(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={kv.key: _value(kv.value) for kv in span.attributes},
                            status_code=span.status.code,
                            scope=scope_spans.scope.name,
                        )
                    )
        with self._lock:
            self.spans.extend(received)

    def _collect_logs(self, request: ExportLogsServiceRequest) -> None:
        received = []
        for resource_logs in request.resource_logs:
            resource = {kv.key: _value(kv.value) for kv in resource_logs.resource.attributes}
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    received.append(
                        ReceivedLog(
                            resource=resource,
                            body=str(_value(record.body)),
                            severity_text=record.severity_text,
                            trace_id=record.trace_id.hex(),
                            span_id=record.span_id.hex(),
                            attributes={kv.key: _value(kv.value) for kv in record.attributes},
                        )
                    )
        with self._lock:
            self.logs.extend(received)

    def all_spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def log_records(self) -> list[ReceivedLog]:
        with self._lock:
            return list(self.logs)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def wait_for(self, trace_id: str, names: set[str], timeout: float = 15.0) -> list[ReceivedSpan]:
        """The spans of ``trace_id`` received so far, once they include every one of ``names``."""

        def complete() -> list[ReceivedSpan]:
            spans = self.trace(trace_id)
            return spans if names <= {span.name for span in spans} else []

        return wait_until(
            complete,
            timeout=timeout,
            interval=0.05,
            message=lambda: (
                f"spans {sorted(names)} of trace {trace_id}"
                f" (received: {sorted({span.name for span in self.trace(trace_id)})})"
            ),
        )

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
