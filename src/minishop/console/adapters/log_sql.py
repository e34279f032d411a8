"""A LogQL-subset query as a SQL condition over the ``logs`` table, for the SQLite store.

The condition gives the same answers as :func:`minishop.console.domain.logql.matches`
(the tests run both over the same records): it reads the label mapping and the regular
expressions from the domain instead of restating them. User text only ever travels as
``?`` parameters; the SQL around it is built from fixed pieces (column names from the
domain's own table, never from the query).

- ``|=``/``!=`` use ``instr()``: case-sensitive, like Loki, and no ``LIKE`` wildcards to escape.
- Regexes use ``regexp(pattern, text)``, registered by :func:`register_log_functions`.
- Attribute and resource lookups use ``json_type``/``->>``/``->`` with quoted keys
  (``$."service.namespace"``): text as stored, other values as their JSON text, null and
  absent keys as absent.
"""

from __future__ import annotations

import sqlite3

from minishop.console.domain.logql import LabelFilter, LabelMatcher, LineFilter, LogQuery
from minishop.console.domain.logql_match import (
    LabelSource,
    anchored_pattern,
    ascii_lower,
    label_source,
    regex_search,
)

# What each value of a JSON column turns into: text as is, true/false as words, numbers,
# arrays and objects as their JSON text, null (and a missing key, which json_type gives as
# NULL) as NULL so the next lookup in the list is tried.
_LOOKUP = (
    "CASE json_type({column}, ?) WHEN 'text' THEN {column} ->> ? "
    "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL "
    "ELSE {column} -> ? END"
)


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label_sql(source: LabelSource) -> tuple[str, list[object]]:
    """The SQL text expression of a label, ``''`` when the record has none."""
    if source.column is not None:
        return source.column, []
    parts: list[str] = []
    params: list[object] = []
    for column, key in source.lookups:
        path = _json_path(key)
        parts.append(_LOOKUP.format(column=column))
        params.extend([path, path, path])
    return "COALESCE(" + ", ".join([*parts, "''"]) + ")", params


def _matcher_sql(matcher: LabelMatcher) -> tuple[str, list[object]]:
    source = label_source(matcher.name)
    value_sql, value_params = _label_sql(source)
    if matcher.op in ("=", "!="):
        operator = "=" if matcher.op == "=" else "<>"
        # levels are stored lower case: lower-casing the value alone keeps an index usable
        value = ascii_lower(matcher.value) if source.ignore_case else matcher.value
        return f"{value_sql} {operator} ?", [*value_params, value]
    pattern = anchored_pattern(matcher.value, ignore_case=source.ignore_case)
    negation = "" if matcher.op == "=~" else "NOT "
    return f"{negation}regexp(?, {value_sql})", [pattern, *value_params]


def _line_filter_sql(stage: LineFilter) -> tuple[str, list[object]]:
    if stage.op == "|=":
        return "instr(message, ?) > 0", [stage.value]
    if stage.op == "!=":
        return "instr(message, ?) = 0", [stage.value]
    negation = "" if stage.op == "|~" else "NOT "
    return f"{negation}regexp(?, message)", [stage.value]


def compile_log_query(query: LogQuery) -> tuple[str, list[object]]:
    """A SQL boolean expression over the columns of ``logs`` (no ``WHERE``), and its parameters."""
    conditions: list[str] = []
    params: list[object] = []
    pieces = [_matcher_sql(matcher) for matcher in query.selectors]
    for stage in query.pipeline:
        if isinstance(stage, LineFilter):
            pieces.append(_line_filter_sql(stage))
        elif isinstance(stage, LabelFilter):
            pieces.append(_matcher_sql(stage.matcher))
    for sql, piece_params in pieces:
        conditions.append(f"({sql})")
        params.extend(piece_params)
    return (" AND ".join(conditions) or "1"), params


def _regexp(pattern: str | None, text: str | None) -> int:
    """SQLite's ``regexp(pattern, text)``: 1 when Python's ``re`` finds the pattern in text."""
    if pattern is None or text is None:
        return 0
    return 1 if regex_search(pattern, str(text)) else 0


def register_log_functions(connection: sqlite3.Connection) -> None:
    """Register ``regexp`` (deterministic, compiled patterns cached) on one connection."""
    connection.create_function("regexp", 2, _regexp, deterministic=True)


__all__ = ["compile_log_query", "register_log_functions"]
