"""Makes a fault that changed a request visible on that request's span.

The OpenTelemetry semantic conventions for feature flags: an event named
``feature_flag.evaluation`` with the flag's key, the variant in force and the provider.
Only the trace API is used (services never touch the SDK).
"""

from __future__ import annotations

from opentelemetry import trace

EVENT_NAME = "feature_flag.evaluation"
PROVIDER_NAME = "flagd-file"


def record_evaluation(
    key: str, variant: str, value: str | int | float | bool | None = None
) -> None:
    """Add the evaluation event to the current span (nothing when there is none)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes: dict[str, str | int | float | bool] = {
        "feature_flag.key": key,
        "feature_flag.variant": variant,
        "feature_flag.result.variant": variant,
        "feature_flag.provider.name": PROVIDER_NAME,
    }
    if value is not None:
        attributes["feature_flag.result.value"] = value
    span.add_event(EVENT_NAME, attributes)
