"""A query against one record in memory: the reference semantics of the LogQL subset.

The SQL compiler (``adapters/log_sql.py``) must give the same answers; it reads the label
mapping (:func:`label_source`), the regular expressions (:func:`anchored_pattern`) and the
text of attribute values (:func:`value_text`) from here, so the two cannot drift apart.
The label mapping itself is documented in :mod:`minishop.console.domain.logql`.

A record is a mapping with the columns of the ``logs`` table: ``service``, ``level``,
``message``, ``trace_id``, ``span_id``, and ``attributes`` and ``resource`` (each a mapping,
or its JSON text as stored). :func:`record_fields` makes one from a :class:`LogRecord`.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from minishop.console.domain.logql_ast import LabelFilter, LabelMatcher, LineFilter, LogQuery
from minishop.console.domain.records import LogRecord

Column = Literal["service", "level", "message", "trace_id", "span_id"]
JsonColumn = Literal["attributes", "resource"]

_COLUMN_LABELS: dict[str, Column] = {
    "service": "service",
    "service_name": "service",
    "level": "level",
    "severity_text": "level",
    "trace_id": "trace_id",
    "span_id": "span_id",
}
_LOOKUP_LABELS: dict[str, tuple[tuple[JsonColumn, str], ...]] = {
    "app": (("resource", "service.namespace"), ("attributes", "app")),
    "environment": (
        ("resource", "deployment.environment"),
        ("resource", "deployment.environment.name"),
    ),
}
_LOOKUP_LABELS["deployment_environment"] = _LOOKUP_LABELS["environment"]
_CASE_INSENSITIVE: frozenset[Column] = frozenset({"level"})
_LEADING_FLAGS = re.compile(r"(?:\(\?[aiLmsux]+\))+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class LabelSource:
    """Where a label's value comes from: a column, or the first present JSON key of a list."""

    column: Column | None = None
    lookups: tuple[tuple[JsonColumn, str], ...] = ()
    ignore_case: bool = False  # levels (stored lower case): see logql.py


def label_source(name: str) -> LabelSource:
    """The mapping from a label name to the record's field (documented in ``logql.py``)."""
    column = _COLUMN_LABELS.get(name)
    if column is not None:
        return LabelSource(column=column, ignore_case=column in _CASE_INSENSITIVE)
    lookups = _LOOKUP_LABELS.get(name)
    if lookups is None:
        dotted = name.replace("_", ".")
        candidates: list[tuple[JsonColumn, str]] = [("attributes", name)]
        if dotted != name:
            candidates.append(("attributes", dotted))
        candidates.append(("resource", dotted))
        lookups = tuple(candidates)
    return LabelSource(lookups=lookups)


def ascii_lower(text: str) -> str:
    """Lower case for ASCII letters only: what the levels (``error``, ``info``) are made of."""
    return text.translate(_ASCII_LOWER)


def anchored_pattern(pattern: str, *, ignore_case: bool = False) -> str:
    """The whole-value regular expression of ``=~``/``!~`` (Loki anchors them), for search.

    Leading global flags such as ``(?i)`` stay in front: Python accepts them only there.
    """
    flags = _LEADING_FLAGS.match(pattern)
    prefix = flags.group() if flags else ""
    body = pattern[len(prefix) :]
    return ("(?i)" if ignore_case else "") + prefix + r"\A(?:" + body + r")\Z"


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compiled once per pattern: the same query runs against every row.

    Python warns about constructs whose meaning may change (``[[``); a person's query is
    not the place for that warning, which would otherwise reach the log once per pattern.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(pattern)


def regex_search(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).search(text) is not None


def value_text(value: Any) -> str | None:
    """An attribute value as the text labels compare with; ``None`` when absent or null.

    Text as JSON writes it, which is what SQLite's ``->`` gives for numbers, arrays and
    objects: ``true``/``false``, ``3``, ``2.5``, ``["a","b"]`` (compact).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _json_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        decoded = json.loads(value or "{}")
        return decoded if isinstance(decoded, Mapping) else {}
    return value if isinstance(value, Mapping) else {}


def label_value(fields: Mapping[str, Any], name: str) -> str:
    """The value of label ``name`` for a record; ``""`` when it has none, as in Loki."""
    source = label_source(name)
    if source.column is not None:
        return str(fields.get(source.column) or "")
    for column, key in source.lookups:
        text = value_text(_json_mapping(fields.get(column)).get(key))
        if text is not None:
            return text
    return ""


def _matcher_holds(matcher: LabelMatcher, fields: Mapping[str, Any]) -> bool:
    source = label_source(matcher.name)
    value = label_value(fields, matcher.name)
    if matcher.op in ("=", "!="):
        expected = ascii_lower(matcher.value) if source.ignore_case else matcher.value
        equal = value == expected
        return equal == (matcher.op == "=")
    found = regex_search(anchored_pattern(matcher.value, ignore_case=source.ignore_case), value)
    return found == (matcher.op == "=~")


def _line_filter_holds(stage: LineFilter, message: str) -> bool:
    if stage.op == "|=":
        return stage.value in message
    if stage.op == "!=":
        return stage.value not in message
    found = regex_search(stage.value, message)
    return found == (stage.op == "|~")


def matches(query: LogQuery, fields: Mapping[str, Any]) -> bool:
    """Whether one record passes the stream selector and every stage of the pipeline."""
    if not all(_matcher_holds(matcher, fields) for matcher in query.selectors):
        return False
    message = str(fields.get("message") or "")
    for stage in query.pipeline:
        if isinstance(stage, LineFilter):
            if not _line_filter_holds(stage, message):
                return False
        elif isinstance(stage, LabelFilter) and not _matcher_holds(stage.matcher, fields):
            return False
    return True


def record_fields(record: LogRecord) -> dict[str, Any]:
    """A :class:`LogRecord` as the mapping :func:`matches` reads."""
    return {
        "service": record.service,
        "level": record.level,
        "message": record.message,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "attributes": record.attributes,
        "resource": record.resource,
    }
