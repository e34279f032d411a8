"""OTLP trace requests encoded straight to protobuf bytes.

Exporting spans is the most expensive telemetry part of a request (``bench/
telemetry_cost.py``): the SDK's encoder builds a Python protobuf object per span,
attribute and value (~60 µs per span here) and runs in the service's process, under
its GIL. Writing the wire format directly produces the same bytes for the same spans
at a fraction of the cost; ``tests/unit/test_otlp_encoding.py`` decodes both with the
official message classes and requires them to be equal, field by field.

Wire format: opentelemetry-proto ``collector/trace/v1`` (ExportTraceServiceRequest).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext

_PACK_FIXED64 = struct.Struct("<Q").pack
_PACK_FIXED32 = struct.Struct("<I").pack
_PACK_DOUBLE = struct.Struct("<d").pack

_HAS_IS_REMOTE = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_SMALL = [bytes((n,)) for n in range(128)]
_KEYS: dict[str, bytes] = {}  # attribute keys repeat: their encoding is kept


def _varint(value: int) -> bytes:
    if value < 128:
        return _SMALL[value] if value >= 0 else _varint(value + (1 << 64))
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + _varint(len(payload)) + payload


# Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
_T1_LEN, _T2_LEN, _T3_LEN, _T4_LEN = b"\x0a", b"\x12", b"\x1a", b"\x22"
_T5_LEN, _T7_LEN = b"\x2a", b"\x3a"
_T2_VARINT, _T3_VARINT, _T4_VARINT = b"\x10", b"\x18", b"\x20"
_T5_VARINT, _T6_VARINT = b"\x28", b"\x30"
_T1_FIXED64, _T4_FIXED64, _T7_FIXED64, _T8_FIXED64 = b"\x09", b"\x21", b"\x39", b"\x41"
_T6_FIXED32 = b"\x35"
_SPAN_ATTRIBUTE, _SPAN_DROPPED_ATTRIBUTES = b"\x4a", b"\x50"
_SPAN_EVENT, _SPAN_DROPPED_EVENTS = b"\x5a", b"\x60"
_SPAN_LINK, _SPAN_DROPPED_LINKS = b"\x6a", b"\x70"
_SPAN_STATUS, _SPAN_FLAGS = b"\x7a", b"\x85\x01"


def _any_value(value: Any) -> bytes:
    """AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes."""
    if value is None:
        return b""
    if isinstance(value, str):
        return _field(_T1_LEN, value.encode())
    if isinstance(value, bool):
        return _T2_VARINT + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _T3_VARINT + _varint(value)
    if isinstance(value, float):
        return _T4_FIXED64 + _PACK_DOUBLE(value)
    if isinstance(value, bytes):
        return _field(_T7_LEN, value)
    if isinstance(value, Sequence):
        return _field(_T5_LEN, b"".join(_field(_T1_LEN, _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(b"\x32", _attributes(value, _T1_LEN))
    raise TypeError(f"cannot encode attribute value of type {type(value).__name__}")


def _key(key: str) -> bytes:
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = _field(_T1_LEN, key.encode())
        if len(_KEYS) < 4096:
            _KEYS[key] = encoded
    return encoded


def _attributes(attributes: Mapping[str, Any] | None, tag: bytes) -> bytes:
    """Repeated KeyValue under ``tag``; a value that cannot be encoded is left out."""
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        try:
            parts.append(_field(tag, _key(str(key)) + _field(_T2_LEN, _any_value(value))))
        except TypeError:
            continue
    return b"".join(parts)


def _uint_field(tag: bytes, value: int) -> bytes:
    return tag + _varint(value) if value else b""


def _string_field(tag: bytes, value: str | None) -> bytes:
    return _field(tag, value.encode()) if value else b""


def _trace_state(context: SpanContext) -> str:
    state = context.trace_state
    return ",".join(f"{key}={value}" for key, value in state.items()) if state else ""


def _flags(parent: SpanContext | None) -> int:
    return _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    parent = span.parent
    parts = [
        _T1_LEN + b"\x10" + context.trace_id.to_bytes(16, "big"),
        _T2_LEN + b"\x08" + context.span_id.to_bytes(8, "big"),
        _string_field(_T3_LEN, _trace_state(context)),
        _T4_LEN + b"\x08" + parent.span_id.to_bytes(8, "big") if parent is not None else b"",
        _string_field(_T5_LEN, span.name),
        _T6_VARINT + _SMALL[span.kind.value + 1],  # SDK kinds start at 0, OTLP's at 1
        _T7_FIXED64 + _PACK_FIXED64(span.start_time or 0) if span.start_time else b"",
        _T8_FIXED64 + _PACK_FIXED64(span.end_time or 0) if span.end_time else b"",
        _attributes(span.attributes, _SPAN_ATTRIBUTE),
        _uint_field(_SPAN_DROPPED_ATTRIBUTES, span.dropped_attributes),
    ]
    for event in span.events:
        body = (
            (_T1_FIXED64 + _PACK_FIXED64(event.timestamp) if event.timestamp else b"")
            + _string_field(_T2_LEN, event.name)
            + _attributes(event.attributes, _T3_LEN)
            + _uint_field(_T4_VARINT, event.dropped_attributes)
        )
        parts.append(_field(_SPAN_EVENT, body))
    parts.append(_uint_field(_SPAN_DROPPED_EVENTS, span.dropped_events))
    for link in span.links:
        linked = link.context
        body = (
            _T1_LEN + b"\x10" + linked.trace_id.to_bytes(16, "big")
            + _T2_LEN + b"\x08" + linked.span_id.to_bytes(8, "big")
            + _attributes(link.attributes, _T4_LEN)
            + _uint_field(_T5_VARINT, link.dropped_attributes)
            + _T6_FIXED32 + _PACK_FIXED32(_flags(linked))
        )  # fmt: skip
        parts.append(_field(_SPAN_LINK, body))
    parts.append(_uint_field(_SPAN_DROPPED_LINKS, span.dropped_links))
    status = span.status
    parts.append(
        _field(
            _SPAN_STATUS,
            _string_field(_T2_LEN, status.description)
            + _uint_field(_T3_VARINT, status.status_code.value),
        )
    )
    parts.append(_SPAN_FLAGS + _PACK_FIXED32(_flags(parent)))
    return b"".join(parts)


def _resource(resource: Resource) -> bytes:
    return _field(_T1_LEN, _attributes(resource.attributes, _T1_LEN))


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return _field(_T1_LEN, b"")
    body = (
        _string_field(_T1_LEN, scope.name)
        + _string_field(_T2_LEN, scope.version)
        + _attributes(scope.attributes, _T3_LEN)
    )
    return _field(_T1_LEN, body)


def encode_trace_request(spans: Sequence[ReadableSpan]) -> bytes:
    """ExportTraceServiceRequest bytes: spans grouped by resource, then by scope."""
    grouped: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
    for span in spans:
        scopes = grouped.setdefault(span.resource, {})
        scopes.setdefault(span.instrumentation_scope or None, []).append(_span(span))
    request = []
    for resource, scopes in grouped.items():
        body = [_resource(resource)]
        for scope, encoded in scopes.items():
            scope_body = (
                _scope(scope)
                + b"".join(_field(_T2_LEN, item) for item in encoded)
                + _string_field(_T3_LEN, scope.schema_url if scope else None)
            )
            body.append(_field(_T2_LEN, scope_body))
        body.append(_string_field(_T3_LEN, resource.schema_url))
        request.append(_field(_T1_LEN, b"".join(body)))
    return b"".join(request)
