"""OTLP/protobuf wire encoding of spans in their flattened form, standard library only.

A service's span processor turns each SDK span into a tuple of plain values (the layout
below) and this module writes the ``ExportTraceServiceRequest`` bytes from those tuples. The
service's own ``otlp_encoding.encode_trace_request`` runs the same code, so the test that
decodes its bytes with the official message classes holds this encoder to them as well.

Resource and scope are encoded once per object by the service and travel as bytes: their
encoding never changes, and a ``Resource`` hashes by dumping its attributes to JSON, far
dearer than the bytes. Wire format: opentelemetry-proto ``collector/trace/v1``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # typing (and the re it imports) is not worth the exporter's memory
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

_PACK_FIXED64 = struct.Struct("<Q").pack
_PACK_FIXED32 = struct.Struct("<I").pack
_PACK_DOUBLE = struct.Struct("<d").pack

HAS_IS_REMOTE = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
IS_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_SMALL = [bytes((n,)) for n in range(128)]
_KEYS: dict[str, bytes] = {}  # attribute keys repeat: their encoding is kept

# The flattened span: a tuple whose fields sit at these positions.
(
    RESOURCE,  # (Resource message field bytes, ResourceSpans schema_url field bytes)
    SCOPE,  # (InstrumentationScope message field bytes, ScopeSpans schema_url field bytes)
    TRACE_ID,  # int
    SPAN_ID,  # int
    TRACE_STATE,  # str, "" when empty
    PARENT_SPAN_ID,  # int, or None for a root span
    FLAGS,  # int: the span flags (is-remote bits of the parent)
    NAME,  # str
    KIND,  # int, OTLP numbering (SDK kind + 1)
    START,  # int, ns since the epoch (0: unset)
    END,  # int, ns since the epoch (0: unset)
    ATTRIBUTES,  # dict
    DROPPED_ATTRIBUTES,  # int
    EVENTS,  # tuple of (time ns, name, attributes dict, dropped attributes)
    DROPPED_EVENTS,  # int
    LINKS,  # tuple of (trace id, span id, attributes dict, dropped attributes, flags)
    DROPPED_LINKS,  # int
    STATUS_DESCRIPTION,  # str or None
    STATUS_CODE,  # int
) = range(19)
FIELDS = 19


def varint(value: int) -> bytes:
    if value < 128:
        return _SMALL[value] if value >= 0 else varint(value + (1 << 64))
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + varint(len(payload)) + payload


# Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
T1_LEN, T2_LEN, T3_LEN, T4_LEN = b"\x0a", b"\x12", b"\x1a", b"\x22"
_T5_LEN, _T7_LEN = b"\x2a", b"\x3a"
_T2_VARINT, _T3_VARINT, _T4_VARINT = b"\x10", b"\x18", b"\x20"
_T5_VARINT, _T6_VARINT = b"\x28", b"\x30"
_T1_FIXED64, _T4_FIXED64, _T7_FIXED64, _T8_FIXED64 = b"\x09", b"\x21", b"\x39", b"\x41"
_T6_FIXED32 = b"\x35"
_SPAN_ATTRIBUTE, _SPAN_DROPPED_ATTRIBUTES = b"\x4a", b"\x50"
_SPAN_EVENT, _SPAN_DROPPED_EVENTS = b"\x5a", b"\x60"
_SPAN_LINK, _SPAN_DROPPED_LINKS = b"\x6a", b"\x70"
_SPAN_STATUS, _SPAN_FLAGS = b"\x7a", b"\x85\x01"


def any_value(value: Any) -> bytes:
    """AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes."""
    if value is None:
        return b""
    if isinstance(value, str):
        return field(T1_LEN, value.encode())
    if isinstance(value, bool):
        return _T2_VARINT + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _T3_VARINT + varint(value)
    if isinstance(value, float):
        return _T4_FIXED64 + _PACK_DOUBLE(value)
    if isinstance(value, bytes):
        return field(_T7_LEN, value)
    if isinstance(value, Sequence):
        return field(_T5_LEN, b"".join(field(T1_LEN, any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return field(b"\x32", attributes(value, T1_LEN))
    raise TypeError(f"cannot encode attribute value of type {type(value).__name__}")


def _key(key: str) -> bytes:
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = field(T1_LEN, key.encode())
        if len(_KEYS) < 4096:
            _KEYS[key] = encoded
    return encoded


def attributes(values: Mapping[str, Any] | None, tag: bytes) -> bytes:
    """Repeated KeyValue under ``tag``; a value that cannot be encoded is left out."""
    if not values:
        return b""
    parts = []
    for key, value in values.items():
        try:
            parts.append(field(tag, _key(str(key)) + field(T2_LEN, any_value(value))))
        except TypeError:
            continue
    return b"".join(parts)


def _uint_field(tag: bytes, value: int) -> bytes:
    return tag + varint(value) if value else b""


def string_field(tag: bytes, value: str | None) -> bytes:
    return field(tag, value.encode()) if value else b""


def span_flags(parent_is_remote: bool) -> int:
    return HAS_IS_REMOTE | (IS_REMOTE if parent_is_remote else 0)


def _event(event: tuple[int, str, Mapping[str, Any] | None, int]) -> bytes:
    timestamp, name, values, dropped = event
    body = (
        (_T1_FIXED64 + _PACK_FIXED64(timestamp) if timestamp else b"")
        + string_field(T2_LEN, name)
        + attributes(values, T3_LEN)
        + _uint_field(_T4_VARINT, dropped)
    )
    return field(_SPAN_EVENT, body)


def _link(link: tuple[int, int, Mapping[str, Any] | None, int, int]) -> bytes:
    trace_id, span_id, values, dropped, flags = link
    body = (
        T1_LEN + b"\x10" + trace_id.to_bytes(16, "big")
        + T2_LEN + b"\x08" + span_id.to_bytes(8, "big")
        + attributes(values, T4_LEN)
        + _uint_field(_T5_VARINT, dropped)
        + _T6_FIXED32 + _PACK_FIXED32(flags)
    )  # fmt: skip
    return field(_SPAN_LINK, body)


def encode_span(span: Sequence[Any]) -> bytes:
    """The Span message of one flattened span."""
    parent = span[PARENT_SPAN_ID]
    start, end = span[START], span[END]
    parts = [
        T1_LEN + b"\x10" + span[TRACE_ID].to_bytes(16, "big"),
        T2_LEN + b"\x08" + span[SPAN_ID].to_bytes(8, "big"),
        string_field(T3_LEN, span[TRACE_STATE]),
        T4_LEN + b"\x08" + parent.to_bytes(8, "big") if parent is not None else b"",
        string_field(_T5_LEN, span[NAME]),
        _T6_VARINT + _SMALL[span[KIND]],
        _T7_FIXED64 + _PACK_FIXED64(start) if start else b"",
        _T8_FIXED64 + _PACK_FIXED64(end) if end else b"",
        attributes(span[ATTRIBUTES], _SPAN_ATTRIBUTE),
        _uint_field(_SPAN_DROPPED_ATTRIBUTES, span[DROPPED_ATTRIBUTES]),
    ]
    parts.extend(_event(event) for event in span[EVENTS])
    parts.append(_uint_field(_SPAN_DROPPED_EVENTS, span[DROPPED_EVENTS]))
    parts.extend(_link(link) for link in span[LINKS])
    parts.append(_uint_field(_SPAN_DROPPED_LINKS, span[DROPPED_LINKS]))
    parts.append(
        field(
            _SPAN_STATUS,
            string_field(T2_LEN, span[STATUS_DESCRIPTION])
            + _uint_field(_T3_VARINT, span[STATUS_CODE]),
        )
    )
    parts.append(_SPAN_FLAGS + _PACK_FIXED32(span[FLAGS]))
    return b"".join(parts)


def resource_parts(values: Mapping[str, Any], schema_url: str | None) -> tuple[bytes, bytes]:
    """What a ResourceSpans holds besides its spans: the Resource field and the schema_url field."""
    return field(T1_LEN, attributes(values, T1_LEN)), string_field(T3_LEN, schema_url)


def scope_parts(
    name: str | None, version: str | None, values: Mapping[str, Any] | None, schema_url: str | None
) -> tuple[bytes, bytes]:
    """What a ScopeSpans holds besides its spans: the scope field and the schema_url field."""
    body = string_field(T1_LEN, name) + string_field(T2_LEN, version) + attributes(values, T3_LEN)
    return field(T1_LEN, body), string_field(T3_LEN, schema_url)


NO_SCOPE = (field(T1_LEN, b""), b"")


def encode_spans(spans: Iterable[Sequence[Any]]) -> bytes:
    """ExportTraceServiceRequest bytes: spans grouped by resource, then scope, in arrival order."""
    grouped: dict[tuple[bytes, bytes], dict[tuple[bytes, bytes], list[bytes]]] = {}
    for span in spans:
        scopes = grouped.setdefault(span[RESOURCE], {})
        scopes.setdefault(span[SCOPE], []).append(encode_span(span))
    request = []
    for (resource, resource_schema), scopes in grouped.items():
        body = [resource]
        for (scope, scope_schema), encoded in scopes.items():
            scope_body = scope + b"".join(field(T2_LEN, item) for item in encoded) + scope_schema
            body.append(field(T2_LEN, scope_body))
        body.append(resource_schema)
        request.append(field(T1_LEN, b"".join(body)))
    return b"".join(request)
