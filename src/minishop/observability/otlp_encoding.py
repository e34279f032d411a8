"""SDK spans flattened to plain tuples, and OTLP trace requests encoded from them.

Exporting spans is the most expensive telemetry part of a request (``bench/
telemetry_cost.py``): the SDK's encoder builds a Python protobuf object per span,
attribute and value (~60 µs per span here) and runs in the service's process, under
its GIL. ``flat_span`` copies what a span holds into a tuple of plain values, cheap
enough for the service and marshal-able, so the encoding proper
(``minishop.export_worker.wire``) can run in the exporter process; ``encode_trace_request``
chains both for an exporter that stays in the process. The bytes equal the SDK encoder's
for the same spans: ``tests/unit/test_otlp_encoding.py`` decodes both with the official
message classes and requires them to be equal, field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from minishop.export_worker import wire

# Encoded resource and scope parts by object identity (the object is kept, so its id is not
# reused): a service has one resource and a handful of scopes, built once.
_RESOURCES: dict[int, tuple[Resource, tuple[bytes, bytes]]] = {}
_SCOPES: dict[int, tuple[InstrumentationScope, tuple[bytes, bytes]]] = {}
_CACHE_LIMIT = 256


def _resource(resource: Resource) -> tuple[bytes, bytes]:
    cached = _RESOURCES.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    parts = wire.resource_parts(resource.attributes, resource.schema_url)
    if len(_RESOURCES) < _CACHE_LIMIT:
        _RESOURCES[id(resource)] = (resource, parts)
    return parts


def _scope(scope: InstrumentationScope | None) -> tuple[bytes, bytes]:
    if scope is None:
        return wire.NO_SCOPE
    cached = _SCOPES.get(id(scope))
    if cached is not None and cached[0] is scope:
        return cached[1]
    parts = wire.scope_parts(scope.name, scope.version, scope.attributes, scope.schema_url)
    if len(_SCOPES) < _CACHE_LIMIT:
        _SCOPES[id(scope)] = (scope, parts)
    return parts


def _trace_state(state: Any) -> str:
    return ",".join(f"{key}={value}" for key, value in state.items()) if state else ""


def _plain(values: Any) -> dict[str, Any] | None:
    """A plain dict of an SDK attribute container (its inner dict when it has one: a C copy)."""
    if not values:
        return None
    inner = getattr(values, "_dict", None)
    return dict(inner if inner is not None else values)


def _dropped(container: Any) -> int:
    return getattr(container, "dropped", 0)


def _events(events: Any) -> tuple[Any, ...]:
    return tuple(
        (event.timestamp, event.name, _plain(event.attributes), event.dropped_attributes)
        for event in events
    )


def _links(links: Any) -> tuple[Any, ...]:
    return tuple(
        (
            link.context.trace_id,
            link.context.span_id,
            _plain(link.attributes),
            link.dropped_attributes,
            wire.span_flags(link.context.is_remote),
        )
        for link in links
    )


_LOCAL_FLAGS = wire.span_flags(False)
_REMOTE_FLAGS = wire.span_flags(True)


def flat_span(span: ReadableSpan) -> tuple[Any, ...]:
    """The span as a tuple of plain values, in ``wire``'s field order.

    Runs for every span exported, on the service's GIL: it reads the SDK's fields directly
    (the public properties copy ``events`` and ``links`` and wrap the attributes), and
    leaves every per-value decision to the encoder in the exporter process.
    """
    context = span._context
    parent = span._parent
    attributes = span._attributes
    events = span._events
    links = span._links
    status = span._status
    state = context.trace_state
    return (
        _resource(span._resource),
        _scope(span._instrumentation_scope),
        context.trace_id,
        context.span_id,
        _trace_state(state) if state else "",
        parent.span_id if parent is not None else None,
        _REMOTE_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS,
        span._name,
        span._kind.value + 1,  # SDK kinds start at 0, OTLP's at 1
        span._start_time or 0,
        span._end_time or 0,
        _plain(attributes),
        _dropped(attributes),
        _events(events) if events else (),
        _dropped(events),
        _links(links) if links else (),
        _dropped(links),
        status.description,
        status.status_code.value,
    )


def encode_trace_request(spans: Sequence[ReadableSpan]) -> bytes:
    """ExportTraceServiceRequest bytes: spans grouped by resource, then by scope."""
    return wire.encode_spans(flat_span(span) for span in spans)
