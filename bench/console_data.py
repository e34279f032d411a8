"""Realistic telemetry for the console benchmark: OTLP request bodies and a filled store.

Two kinds of data, both shaped like what the shop's five services send on the order path
(a gateway request fanning out to users, products, orders and payments, with SQL spans,
HTTP client spans and ``order.*``/``payment.*`` attributes):

- OTLP/HTTP protobuf bodies of 512 spans or 512 log records, encoded once with the same
  encoders the services use (``minishop.observability.otlp_encoding`` for traces, the SDK's
  for logs). Every trace id starts with an 8-byte marker, so a sender can give each request
  fresh trace ids with one ``bytes.replace`` instead of encoding again (:func:`fresh_body`);
- ``SpanRecord``/``LogRecord`` batches to fill a ``SqliteTelemetryStore`` file directly, for
  search timings over a million spans without sending them through the receiver.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from minishop.console.domain.records import LogRecord, SpanRecord
from minishop.observability.otlp_encoding import encode_trace_request

BATCH_ITEMS = 512
MARKER = bytes.fromhex("b7e1c0de5a17f00d")  # the first 8 bytes of every template trace id
SERVICES = ("gateway", "users", "products", "orders", "payments")
MS = 1_000_000
_PACK_ID = struct.Struct(">Q").pack


@dataclass(frozen=True)
class Operation:
    """One span a service makes for an order: its name, kind and attributes."""

    name: str
    kind: str
    offset_ms: float
    duration_ms: float
    attributes: dict[str, object]


def _server(method: str, route: str, status: int) -> dict[str, object]:
    return {
        "http.request.method": method,
        "http.route": route,
        "url.path": route.replace("{order_id}", "4711"),
        "url.scheme": "http",
        "http.response.status_code": status,
        "server.address": "127.0.0.1",
        "server.port": 8000,
        "network.protocol.version": "1.1",
        "client.address": "127.0.0.1",
        "user_agent.original": "python-httpx/0.28.1",
    }


def _client(method: str, url: str, status: int) -> dict[str, object]:
    return {
        "http.request.method": method,
        "url.full": url,
        "server.address": "127.0.0.1",
        "server.port": 8003,
        "http.response.status_code": status,
        "network.protocol.version": "1.1",
        "network.peer.address": "127.0.0.1",
        "minishop.downstream": url.split("/")[2],
        "http.request.resend_count": 0,
        "minishop.retry": False,
    }


def _sql(operation: str, table: str) -> dict[str, object]:
    return {
        "db.system.name": "sqlite",
        "db.namespace": "main",
        "db.operation.name": operation,
        "db.collection.name": table,
        "db.query.text": f"{operation} {table}.id, {table}.status FROM {table} WHERE id = ?",
        "server.address": "localhost",
        "db.response.returned_rows": 1,
        "code.function.name": "execute",
        "code.namespace": "sqlalchemy.engine",
        "minishop.pool": "default",
    }


# What each service does for one order and its payment (8 spans a service, 40 a trace).
SHAPES: dict[str, list[Operation]] = {
    "gateway": [
        Operation("POST /order", "server", 0, 60, _server("POST", "/order", 201)),
        Operation("POST", "client", 2, 12, _client("POST", "http://users:8001/auth", 200)),
        Operation("POST", "client", 15, 40, _client("POST", "http://orders:8003/orders", 201)),
        Operation("rate_limit", "internal", 1, 0.2, {"minishop.limit": 100, "minishop.key": "u1"}),
        Operation("POST /payment/pay", "server", 70, 80, _server("POST", "/payment/pay", 200)),
        Operation("POST", "client", 72, 75, _client("POST", "http://payments:8004/pay", 200)),
        Operation("auth", "internal", 71, 1, {"enduser.id": "1", "minishop.scope": "shop"}),
        Operation("GET", "client", 3, 5, _client("GET", "http://users:8001/users/1", 200)),
    ],
    "users": [
        Operation("POST /auth", "server", 3, 10, _server("POST", "/auth", 200)),
        Operation("SELECT users", "client", 4, 2, _sql("SELECT", "users")),
        Operation("verify_token", "internal", 6, 3, {"enduser.id": "1", "token.kind": "jwt"}),
        Operation("GET /users/{user_id}", "server", 4, 4, _server("GET", "/users/1", 200)),
        Operation("SELECT users", "client", 5, 1, _sql("SELECT", "users")),
        Operation("SELECT sessions", "client", 7, 1, _sql("SELECT", "sessions")),
        Operation("UPDATE sessions", "client", 9, 1, _sql("UPDATE", "sessions")),
        Operation("cache lookup", "internal", 4, 0.3, {"cache.hit": True, "cache.key": "u1"}),
    ],
    "products": [
        Operation("POST /products/reserve", "server", 20, 15, _server("POST", "/reserve", 200)),
        Operation("SELECT products", "client", 21, 2, _sql("SELECT", "products")),
        Operation("UPDATE products", "client", 24, 3, _sql("UPDATE", "products")),
        Operation("INSERT reservations", "client", 28, 2, _sql("INSERT", "reservations")),
        Operation("reserve_stock", "internal", 21, 12, {"product.id": 7, "product.qty": 1}),
        Operation("GET /products/{id}", "server", 16, 3, _server("GET", "/products/7", 200)),
        Operation("SELECT products", "client", 17, 1, _sql("SELECT", "products")),
        Operation("price lookup", "internal", 18, 0.5, {"product.id": 7, "price": 9.99}),
    ],
    "orders": [
        Operation("POST /orders", "server", 16, 38, _server("POST", "/orders", 201)),
        Operation("place_order", "internal", 17, 35, {"order.items": 1, "order.total": 9.99}),
        Operation("POST", "client", 19, 17, _client("POST", "http://products:8002/reserve", 200)),
        Operation("INSERT orders", "client", 37, 3, _sql("INSERT", "orders")),
        Operation("INSERT order_items", "client", 41, 2, _sql("INSERT", "order_items")),
        Operation("GET /orders/{order_id}", "server", 73, 5, _server("GET", "/orders/1", 200)),
        Operation("SELECT orders", "client", 74, 2, _sql("SELECT", "orders")),
        Operation("UPDATE orders", "client", 140, 3, _sql("UPDATE", "orders")),
    ],
    "payments": [
        Operation("POST /pay", "server", 72, 72, _server("POST", "/pay", 200)),
        Operation("charge", "internal", 80, 55, {"payment.provider": "simulated"}),
        Operation("GET", "client", 73, 6, _client("GET", "http://orders:8003/orders/1", 200)),
        Operation("INSERT payments", "client", 136, 2, _sql("INSERT", "payments")),
        Operation("INSERT charge_leases", "client", 79, 1, _sql("INSERT", "charge_leases")),
        Operation("PATCH", "client", 139, 5, _client("PATCH", "http://orders:8003/orders/1", 200)),
        Operation("SELECT payments", "client", 74, 1, _sql("SELECT", "payments")),
        Operation("provider call", "client", 81, 50, {"payment.amount": 9.99, "retry": 0}),
    ],
}
SPANS_PER_TRACE = sum(len(ops) for ops in SHAPES.values())  # 40
LOG_MESSAGES = (
    ("info", "request finished"),
    ("info", "order placed"),
    ("info", "stock reserved"),
    ("info", "payment captured"),
    ("warning", "slow downstream call"),
    ("error", "payment failed"),
)
_KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "internal": SpanKind.INTERNAL,
}


def _resource(service: str) -> Resource:
    return Resource.create(
        {
            "service.name": service,
            "service.namespace": "minishop",
            "service.version": "0.1.0",
            "service.instance.id": f"{service}-1",
            "deployment.environment.name": "lab",
            "host.name": "lab-vm",
            "process.pid": 4242,
            "process.runtime.name": "cpython",
        }
    )


def _span_ids(rng: random.Random, count: int) -> list[int]:
    return [rng.getrandbits(64) | 1 for _ in range(count)]


def span_bodies(now_ns: int, seed: int = 1) -> list[bytes]:
    """One ExportTraceServiceRequest per service, 512 spans each (64 traces of 8 spans).

    Sent in turn with the same fresh marker, the five bodies make 64 traces of 40 spans
    whose parts arrive in five requests, as from the real services.
    """
    rng = random.Random(seed)
    scope = InstrumentationScope("minishop", "0.1.0")
    traces = BATCH_ITEMS // len(SHAPES["gateway"])
    bodies = []
    for service in SERVICES:
        resource = _resource(service)
        spans = []
        for trace in range(traces):
            trace_id = int.from_bytes(MARKER + _PACK_ID(trace), "big")
            base = now_ns - (traces - trace) * 200 * MS
            ids = _span_ids(rng, len(SHAPES[service]))
            for index, operation in enumerate(SHAPES[service]):
                context = SpanContext(trace_id, ids[index], False, TraceFlags(1))
                parent = SpanContext(trace_id, ids[0] if index else ids[-1] ^ 2, False)
                error = service == "payments" and trace % 25 == 0 and index in (0, 1)
                start = base + int(operation.offset_ms * MS)
                spans.append(
                    ReadableSpan(
                        name=operation.name,
                        context=context,
                        parent=parent if (index or service != "gateway") else None,
                        resource=resource,
                        attributes={**operation.attributes, "minishop.request_id": f"r{trace}"},
                        kind=_KINDS[operation.kind],
                        status=Status(StatusCode.ERROR, "declined")
                        if error
                        else Status(StatusCode.UNSET),
                        start_time=start,
                        end_time=start + int(operation.duration_ms * MS),
                        instrumentation_scope=scope,
                    )
                )
        body = encode_trace_request(spans)
        assert body.count(MARKER) == BATCH_ITEMS, "the marker must appear once per span"
        bodies.append(body)
    return bodies


def log_bodies(now_ns: int, seed: int = 2) -> list[bytes]:
    """One ExportLogsServiceRequest per service, 512 records each, most inside a trace."""
    rng = random.Random(seed)
    scope = InstrumentationScope("minishop", None)
    bodies = []
    for service in SERVICES:
        resource = _resource(service)
        records = []
        for index in range(BATCH_ITEMS):
            level, message = LOG_MESSAGES[index % len(LOG_MESSAGES)]
            if message == "payment failed" and index % 4:
                level, message = "info", "request started"
            trace_id = int.from_bytes(MARKER + _PACK_ID(index // 8), "big")
            records.append(
                ReadableLogRecord(
                    ApiLogRecord(
                        timestamp=now_ns - (BATCH_ITEMS - index) * MS,
                        observed_timestamp=now_ns,
                        trace_id=trace_id,
                        span_id=rng.getrandbits(64) | 1,
                        trace_flags=TraceFlags(TraceFlags.SAMPLED),
                        severity_text=level.upper(),
                        severity_number=SeverityNumber.ERROR
                        if level == "error"
                        else SeverityNumber.INFO,
                        body=message,
                        attributes={
                            "logger": f"minishop.{service}",
                            "event": message,
                            "method": "POST",
                            "path": "/order",
                            "status": 201,
                            "duration_ms": 12.5 + index % 50,
                            "request_id": f"r{index}",
                            "order_id": index,
                            "user_id": 1,
                            "filename": "app.py",
                        },
                    ),
                    resource=resource,
                    instrumentation_scope=scope,
                )
            )
        body = encode_logs(records).SerializeToString()
        assert body.count(MARKER) == BATCH_ITEMS, "the marker must appear once per record"
        bodies.append(body)
    return bodies


def fresh_body(template: bytes, sequence: int) -> bytes:
    """The template with trace ids no other request carried (``sequence`` is unique)."""
    return template.replace(MARKER, _PACK_ID(sequence | (1 << 63)))


# -- filling a store directly ----------------------------------------------------------------

ERROR_EVERY = 50  # one trace in 50 has a failed payment
SLOW_EVERY = 100  # one trace in 100 is slow (> 1 s)


def _hex_trace(number: int) -> str:
    return f"{0x5EED0000 + number:032x}"


def store_batches(
    traces: int, logs_per_trace: int, end_ns: int, batch_traces: int = 250
) -> Iterator[tuple[list[SpanRecord], list[LogRecord]]]:
    """``traces`` order traces (10 spans each) ending at ``end_ns``, one every 50 ms."""
    rng = random.Random(3)
    spacing = 50 * MS
    first_start = end_ns - traces * spacing
    plan = [
        ("gateway", "POST /order", "server", 0, 60),
        ("gateway", "POST", "client", 2, 50),
        ("orders", "POST /orders", "server", 4, 45),
        ("orders", "INSERT orders", "client", 8, 3),
        ("products", "POST /products/reserve", "server", 12, 15),
        ("products", "UPDATE products", "client", 14, 3),
        ("gateway", "POST /payment/pay", "server", 70, 80),
        ("payments", "POST /pay", "server", 72, 72),
        ("payments", "provider call", "client", 80, 50),
        ("payments", "INSERT payments", "client", 136, 2),
    ]
    spans: list[SpanRecord] = []
    logs: list[LogRecord] = []
    for number in range(traces):
        trace_id = _hex_trace(number)
        start = first_start + number * spacing
        order_id = number + 1
        error = number % ERROR_EVERY == 7
        slow = 1000 if number % SLOW_EVERY == 3 else 0
        ids = [f"{rng.getrandbits(64) | 1:016x}" for _ in plan]
        for index, (service, name, kind, offset, duration) in enumerate(plan):
            is_sql = name.startswith(("INSERT", "UPDATE"))
            attributes: dict[str, object] = (
                _sql(name.split()[0], name.split()[1])
                if is_sql
                else _server("POST", name.split()[-1], 500 if error and index >= 6 else 200)
            )
            attributes["order.id"] = order_id
            failed = error and service == "payments" and index in (7, 8)
            spans.append(
                SpanRecord(
                    trace_id=trace_id,
                    span_id=ids[index],
                    parent_span_id="" if index == 0 else ids[0 if index < 6 else 6],
                    service=service,
                    name=name,
                    kind=kind,
                    start_ns=start + offset * MS,
                    end_ns=start + (offset + duration + (slow if index == 0 else 0)) * MS,
                    status="error" if failed else "unset",
                    status_message="card declined" if failed else "",
                    attributes=attributes,
                    resource={"service.name": service, "service.namespace": "minishop"},
                )
            )
        for index in range(logs_per_trace):
            level, message = LOG_MESSAGES[index % 4]
            if error and index == logs_per_trace - 1:
                level, message = "error", "payment failed"
            logs.append(
                LogRecord(
                    timestamp_ns=start + index * 10 * MS,
                    service=plan[index * 2 % len(plan)][0],
                    level=level,
                    message=message,
                    trace_id=trace_id,
                    span_id=ids[index % len(ids)],
                    attributes={"order_id": order_id, "path": "/order", "status": 201},
                    resource={
                        "service.name": plan[index * 2 % len(plan)][0],
                        "service.namespace": "minishop",
                    },
                )
            )
        if (number + 1) % batch_traces == 0 or number == traces - 1:
            yield spans, logs
            spans, logs = [], []


def fill_trace_ids(traces: int) -> dict[str, str]:
    """Trace ids the search asks for: one in the middle, one with the rare order id."""
    return {"middle": _hex_trace(traces // 2), "rare": _hex_trace(rare_order_id(traces) - 1)}


def rare_order_id(traces: int) -> int:
    """An ``order.id`` exactly one trace of the fill carries (order ids are 1..traces)."""
    return traces // 3 + 1
