"""W3C baggage the shop trusts enough to put on its spans: whether a request is synthetic.

The load generator sends ``baggage: synthetic_request=true,session.id=<id>`` with every
request. The global propagator (W3C trace context and baggage, OpenTelemetry's default)
reads it in each service's middleware and writes it on every outgoing call, so it follows
the request through the gateway to every service. ``BaggageSpanProcessor`` copies an
allow-list of entries onto each span as it starts, so traces, span searches
(``attr=synthetic_request=true``) and dashboards can tell load from people.

Only listed keys are copied, and values are cut short: baggage comes from clients, and a
span attribute must not become a way to make every span of the shop large.
"""

from __future__ import annotations

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

SYNTHETIC_KEY = "synthetic_request"
SESSION_KEY = "session.id"
SPAN_BAGGAGE_KEYS = (SYNTHETIC_KEY, SESSION_KEY)
MAX_VALUE_LENGTH = 64


def is_synthetic(context: Context | None) -> bool:
    """Whether the request this context belongs to says it is load (``synthetic_request=true``)."""
    return baggage.get_baggage(SYNTHETIC_KEY, context) == "true"


class BaggageSpanProcessor(SpanProcessor):
    """Copies the allow-listed baggage entries of the parent context onto each new span."""

    def __init__(self, keys: tuple[str, ...] = SPAN_BAGGAGE_KEYS) -> None:
        self._keys = keys

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        entries = baggage.get_all(parent_context)
        if not entries:  # people's requests: one lookup and out
            return
        for key in self._keys:
            value = entries.get(key)
            if value is not None:
                span.set_attribute(key, str(value)[:MAX_VALUE_LENGTH])

    def on_end(self, span: ReadableSpan) -> None:
        return

    def shutdown(self) -> None:
        return

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
