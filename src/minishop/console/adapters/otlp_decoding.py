"""OTLP/HTTP request bodies into the console's records.

Both encodings of the OTLP/HTTP spec are read: binary protobuf and OTLP JSON. OTLP JSON is
protobuf's JSON mapping with one twist: trace and span ids are hex strings, not base64, so
they are rewritten before ``json_format.ParseDict`` sees them. Everything else it accepts as
OTLP senders write it (lowerCamelCase keys, enums as ints, int64 as strings or numbers), and
fields it does not know are ignored, as the spec asks of receivers.

A gzip body is inflated in bounded steps: a small compressed body may expand without limit
(a "zip bomb"), so inflating stops as soon as the output passes the limit.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from minishop.console.domain.records import LogRecord, SpanRecord

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")
UNKNOWN_SERVICE = "unknown"

_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical", "trace": "debug", "err": "error"}
_INFLATE_STEP = 64 * 1024


class OtlpDecodeError(ValueError):
    """The body is not a valid OTLP request: the receiver answers 400 with this message."""


class UnsupportedMediaType(ValueError):
    """Neither OTLP encoding, or a content encoding other than gzip: a 415."""


class PayloadTooLarge(ValueError):
    """The body, once inflated, is larger than allowed: a 413."""


def encoding_of(content_type: str | None) -> str:
    """``PROTOBUF`` or ``JSON`` from a ``Content-Type`` header (parameters ignored)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in (PROTOBUF, JSON):
        return media_type
    raise UnsupportedMediaType(
        f"Content-Type {media_type or '(none)'!r} is not supported: send {PROTOBUF} or {JSON}."
    )


def inflate(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body without its ``Content-Encoding`` (identity or gzip), at most ``max_bytes``."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
        return body
    if encoding != "gzip":
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported: use gzip.")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    size = 0
    data = body
    try:
        while True:
            part = inflater.decompress(data, _INFLATE_STEP)
            size += len(part)
            if size > max_bytes:
                raise PayloadTooLarge(f"The body inflates to more than {max_bytes} bytes.")
            parts.append(part)
            data = inflater.unconsumed_tail
            if not data:
                break
        tail = inflater.flush()
    except zlib.error as error:
        raise OtlpDecodeError(f"The gzip body is corrupt: {error}.") from None
    size += len(tail)
    if size > max_bytes:
        raise PayloadTooLarge(f"The body inflates to more than {max_bytes} bytes.")
    if not inflater.eof:
        raise OtlpDecodeError("The gzip body is truncated.")
    parts.append(tail)
    return b"".join(parts)


def decode_traces(body: bytes, encoding: str) -> list[SpanRecord]:
    """The spans of an ``ExportTraceServiceRequest``, in either encoding."""
    request = ExportTraceServiceRequest()
    _parse(request, body, encoding, _hex_ids_of_traces)
    spans: list[SpanRecord] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = _service_of(resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(_span(span, service, resource))
    return spans


def decode_logs(body: bytes, encoding: str) -> list[LogRecord]:
    """The log records of an ``ExportLogsServiceRequest``, in either encoding."""
    request = ExportLogsServiceRequest()
    _parse(request, body, encoding, _hex_ids_of_logs)
    records: list[LogRecord] = []
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        service = _service_of(resource)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append(_log(record, service, resource))
    return records


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as plain Python: bytes become hex, an empty value ``None``."""
    field = value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if field == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if field == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, field)


def level_of(severity_text: str, severity_number: int) -> str:
    """debug, info, warning, error or critical: the text when given, else the number's range."""
    text = severity_text.strip().lower()
    if text:
        return _LEVEL_ALIASES.get(text, text)
    if 1 <= severity_number <= 8:  # TRACE, DEBUG
        return "debug"
    if 13 <= severity_number <= 16:
        return "warning"
    if 17 <= severity_number <= 20:
        return "error"
    if severity_number >= 21:
        return "critical"
    return "info"  # INFO, and a record that says nothing


def _parse(message: Message, body: bytes, encoding: str, fix_ids: Any) -> None:
    if encoding == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as error:
            raise OtlpDecodeError(f"The protobuf body does not decode: {error}.") from None
        return
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise OtlpDecodeError(f"The JSON body does not parse: {error}.") from None
    if not isinstance(document, dict):
        raise OtlpDecodeError("The JSON body must be an object.")
    fix_ids(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError) as error:
        raise OtlpDecodeError(f"The JSON body is not an OTLP request: {error}.") from None


def _hex_ids_of_traces(document: dict[str, Any]) -> None:
    for resource_spans in _objects(document.get("resourceSpans", document.get("resource_spans"))):
        for scope_spans in _objects(
            resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))
        ):
            for span in _objects(scope_spans.get("spans")):
                _hex_to_base64(span, ("traceId", "spanId", "parentSpanId"))
                for link in _objects(span.get("links")):
                    _hex_to_base64(link, ("traceId", "spanId"))


def _hex_ids_of_logs(document: dict[str, Any]) -> None:
    for resource_logs in _objects(document.get("resourceLogs", document.get("resource_logs"))):
        for scope_logs in _objects(resource_logs.get("scopeLogs", resource_logs.get("scope_logs"))):
            for record in _objects(scope_logs.get("logRecords", scope_logs.get("log_records"))):
                _hex_to_base64(record, ("traceId", "spanId"))


def _objects(items: Any) -> Iterable[dict[str, Any]]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise OtlpDecodeError("The JSON body is not an OTLP request: a list is expected.")
    return [item for item in items if isinstance(item, dict)]


def _hex_to_base64(item: dict[str, Any], camel_keys: tuple[str, ...]) -> None:
    """Rewrite OTLP JSON's hex ids into the base64 protobuf's JSON mapping expects."""
    for camel in camel_keys:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
        for key in (camel, snake):
            value = item.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise OtlpDecodeError(f"{camel} must be a hex string.")
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise OtlpDecodeError(f"{camel} {value[:40]!r} is not hex.") from None
            item[key] = base64.b64encode(raw).decode("ascii")


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs}


def _service_of(resource: dict[str, Any]) -> str:
    service = resource.get("service.name")
    return str(service) if service not in (None, "") else UNKNOWN_SERVICE


def _hex_id(raw: bytes, size: int, what: str) -> str:
    if not raw or not any(raw):  # all zeros is OTLP's "no id"
        return ""
    if len(raw) != size:
        raise OtlpDecodeError(f"A {what} must be {size} bytes, not {len(raw)}.")
    return binascii.hexlify(raw).decode("ascii")


def _span(span: Any, service: str, resource: dict[str, Any]) -> SpanRecord:
    trace_id = _hex_id(span.trace_id, 16, "trace id")
    span_id = _hex_id(span.span_id, 8, "span id")
    if not trace_id or not span_id:
        raise OtlpDecodeError(f"Span {span.name!r} has no trace id or no span id.")
    kind = SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else "unspecified"
    code = span.status.code
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_hex_id(span.parent_span_id, 8, "parent span id"),
        service=service,
        name=span.name,
        kind=kind,
        start_ns=span.start_time_unix_nano,
        end_ns=max(span.end_time_unix_nano, span.start_time_unix_nano),
        status=STATUS_CODES[code] if 0 <= code < len(STATUS_CODES) else "unset",
        status_message=span.status.message,
        attributes=_attributes(span.attributes),
        events=[
            {
                "name": event.name,
                "time_ns": event.time_unix_nano,
                "attributes": _attributes(event.attributes),
            }
            for event in span.events
        ],
        resource=resource,
    )


def _log(record: Any, service: str, resource: dict[str, Any]) -> LogRecord:
    body = any_value(record.body)
    if body is None:
        message = ""
    elif isinstance(body, str):
        message = body
    else:
        message = json.dumps(body, default=str)
    timestamp = record.time_unix_nano or record.observed_time_unix_nano or time.time_ns()
    return LogRecord(
        timestamp_ns=timestamp,
        service=service,
        level=level_of(record.severity_text, record.severity_number),
        message=message,
        trace_id=_hex_id(record.trace_id, 16, "trace id"),
        span_id=_hex_id(record.span_id, 8, "span id"),
        attributes=_attributes(record.attributes),
        resource=resource,
    )
