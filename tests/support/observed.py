"""Reading what a fault left in the telemetry: metric samples, flag events, log lines."""

from __future__ import annotations

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client.parser import text_string_to_metric_families


def samples(metrics_text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Each sample called ``name`` in a ``/metrics`` answer: (labels, value)."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name
    ]


def value(metrics_text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    return sum(
        found
        for sample_labels, found in samples(metrics_text, name)
        if labels.items() <= sample_labels.items()
    )


def flag_events(span: ReadableSpan, key: str) -> list[dict]:
    return [
        dict(event.attributes or {})
        for event in span.events
        if event.name == "feature_flag.evaluation"
        and (event.attributes or {}).get("feature_flag.key") == key
    ]


def log_lines(output: str) -> list[dict]:
    lines = []
    for raw in output.splitlines():
        try:
            lines.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue
    return lines
