"""The LogQL subset: parsing, errors, and the same answers in memory and in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minishop.console.adapters.log_sql import compile_log_query, register_log_functions
from minishop.console.adapters.sqlite_schema import SCHEMA
from minishop.console.domain.logql import (
    LabelFilter,
    LabelMatcher,
    LineFilter,
    LogQuery,
    LogQueryError,
    matches,
    parse_logql,
    record_fields,
)
from minishop.console.domain.records import LogRecord

T1, T2, T3, T4, T5 = (f"{n:032x}" for n in (0xA1, 0xB2, 0xC3, 0xD4, 0xE5))
MINISHOP = {"service.namespace": "minishop", "service.version": "1.2.0"}
LOCAL = {**MINISHOP, "deployment.environment": "local"}
STAGING = {**MINISHOP, "deployment.environment.name": "staging"}


def log(
    n: int,
    service: str,
    level: str,
    message: str,
    trace_id: str = "",
    attributes: dict[str, Any] | None = None,
    resource: dict[str, Any] | None = None,
) -> LogRecord:
    """Record ``n`` (its timestamp too), with a span id when it has a trace id."""
    span_id = f"{n:016x}" if trace_id else ""
    resource = MINISHOP if resource is None else resource
    return LogRecord(n, service, level, message, trace_id, span_id, attributes or {}, resource)


RECORDS: dict[int, LogRecord] = {
    record.timestamp_ns: record
    for record in (
        log(1, "orders", "error", "payment failed: card declined", T1,
            attributes={"order.id": "42"}, resource=LOCAL),
        log(2, "payments", "error", "payment failed: insufficient funds (retry 1)", T2,
            attributes={"payment.result": "declined", "retry": True}),
        log(3, "payments", "info", "payment accepted", T3,
            attributes={"payment.result": "ok", "amount": 12.5}),
        log(4, "gateway", "info", "GET /orders 200 in 12 ms", T1,
            attributes={"http.route": "/orders", "status": 200}, resource=LOCAL),
        log(5, "gateway", "warning", "GET /missing 404 in 3 ms",
            attributes={"http.route": "", "status": 404}),
        log(6, "orders", "debug", "Retrying connection to DB"),
        log(7, "products", "critical", "Inventory DEDUCTION failed for product 7", T4,
            attributes={"product.id": 7, "tags": ["a", "b"]}, resource=STAGING),
        log(8, "batch", "info", "payment failed in batch job", T5,
            resource={"service.namespace": "tools"}),
        log(9, "legacy", "error", 'quote " and backslash \\ here',
            attributes={"app": "minishop", "user_id": "u-1"}, resource={}),
        log(10, "users", "info", "multi\nline message\tTabbed",
            attributes={"user.id": "u-2", "nothing": None}),
    )
}  # fmt: skip
APP = {1, 2, 3, 4, 5, 6, 7, 9, 10}  # app="minishop": service.namespace, or attribute app (9)


@pytest.fixture(scope="module")
def database() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    register_log_functions(connection)
    connection.executescript(SCHEMA)  # the store's own tables: the SQL runs on the real ones
    connection.executemany(
        "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                key,
                r.timestamp_ns,
                r.service,
                r.level,
                r.message,
                r.trace_id,
                r.span_id,
                json.dumps(r.attributes),
                json.dumps(r.resource),
            )
            for key, r in RECORDS.items()
        ],
    )
    yield connection
    connection.close()


def in_memory(query: LogQuery) -> set[int]:
    return {key for key, record in RECORDS.items() if matches(query, record_fields(record))}


def in_sqlite(database: sqlite3.Connection, query: LogQuery) -> set[int]:
    condition, params = compile_log_query(query)
    rows = database.execute(f"SELECT id FROM logs WHERE {condition}", params).fetchall()
    return {row[0] for row in rows}


CASES: list[tuple[str, set[int]]] = [
    # CONTRACT section 4 and the README's queries, with our labels
    ('{app="minishop"} |= "payment failed"', {1, 2}),
    ('{app="minishop", service_name="orders"} | severity_text="ERROR"', {1}),
    (f'{{app="minishop"}} | trace_id="{T1}"', {1, 4}),
    ('{app="minishop"} | level="error"', {1, 2, 9}),
    # stream selector operators
    ('{app!="minishop"}', {8}),
    ('{service="payments"}', {2, 3}),
    ('{service=~"pay.*"}', {2, 3}),
    ('{service=~"pay"}', set()),  # anchored, as in Loki
    ('{service!~"orders|payments"}', {4, 5, 7, 8, 9, 10}),
    ('{app=~"mini.*", service!="gateway"}', {1, 2, 3, 6, 7, 9, 10}),
    ('{ service_namespace = "tools" }', {8}),
    # line filters: case-sensitive contains, unanchored regex, both negations
    ('{app="minishop"} |= "failed"', {1, 2, 7}),
    ('{app="minishop"} |= "FAILED"', set()),
    ('{app="minishop"} |= ""', APP),
    ('{app="minishop"} != "GET"', APP - {4, 5}),
    ('{service="payments"} |= "payment" != "retry"', {3}),
    ('{app="minishop"} |~ `GET /\\w+ [45]\\d\\d`', {5}),
    ('{app="minishop"} |~ "(?i)deduction FAILED"', {7}),
    ('{app="minishop"} !~ "(?i)payment"', APP - {1, 2, 3}),
    ('{app="minishop"} !~ "^GET"', APP - {4, 5}),
    ('{app="minishop"} |= "quote \\" and backslash \\\\ here"', {9}),
    ('{app="minishop"} |= "multi\\nline message\\tTab"', {10}),
    # levels ignore case; other labels do not
    ('{level="ERROR"}', {1, 2, 9}),
    ('{level=~"err.*|crit.*"}', {1, 2, 7, 9}),
    ('{severity_text=~"WARN.*"}', {5}),
    ('{level!="info"}', {1, 2, 5, 6, 7, 9}),
    ('{level!~"DEBUG|info"} |= "Retrying"', set()),
    ('{service="ORDERS"}', set()),
    # resource labels and their fallbacks
    ('{environment="local"}', {1, 4}),
    ('{deployment_environment="staging"}', {7}),
    ('{environment=""}', set(RECORDS) - {1, 4, 7}),
    ('{app="minishop"} | service_version="1.2.0"', APP - {9}),
    # attributes: exact name, then dotted; non-text values as JSON writes them
    ('{app="minishop"} | order_id="42"', {1}),
    ('{app="minishop"} | user_id="u-1"', {9}),
    ('{app="minishop"} | user_id="u-2"', {10}),
    ('{app="minishop"} | status="404"', {5}),
    ('{app="minishop"} | status=~"[45].."', {5}),
    ('{app="minishop"} | status!="200"', APP - {4}),
    ('{app="minishop"} | retry="true"', {2}),
    ('{app="minishop"} | amount="12.5"', {3}),
    ('{app="minishop"} | product_id="7"', {7}),
    ('{app="minishop"} | tags=`["a","b"]`', {7}),
    ('{app="minishop"} | nothing=""', APP),  # null is absent
    ('{app="minishop"} | http_route=""', APP - {4}),
    ('{app="minishop"} | payment_result!="declined"', APP - {2}),
    # ids
    ('{app="minishop"} | trace_id=""', {5, 6, 9, 10}),
    ('{app="minishop"} | span_id!=""', {1, 2, 3, 4, 7}),
    # chained stages
    ('{service="orders"} |= "payment" |= "card" | level="error" | trace_id=~"[0-9a-f]{32}"', {1}),
    ('{app=~"mini.*", service!="gateway"} |~ "fail" != "batch" | level!~"debug|info"', {1, 2, 7}),
    ('{app="minishop"}\n  | level="error"\n  != "funds"\n  |= "a"', {1, 9}),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_query_finds_the_same_records_in_memory_and_in_sqlite(
    database: sqlite3.Connection, text: str, expected: set[int]
) -> None:
    query = parse_logql(text)
    assert in_memory(query) == expected
    assert in_sqlite(database, query) == expected


def test_parse_builds_the_tree() -> None:
    query = parse_logql('{app="minishop", service=~`ord.*`} |= "a\\tb" != "c" | level!="debug"')
    assert query == LogQuery(
        selectors=(LabelMatcher("app", "=", "minishop"), LabelMatcher("service", "=~", "ord.*")),
        pipeline=(
            LineFilter("|=", "a\tb"),
            LineFilter("!=", "c"),
            LabelFilter(LabelMatcher("level", "!=", "debug")),
        ),
    )


INVALID: list[tuple[str, str, int]] = [
    ("", "empty query", 0),
    ("   ", "empty query", 3),
    ("{}", "a stream selector needs at least one matcher", 0),
    ('{app="minishop"', "expected '}' to close the stream selector", 15),
    ('{app="minishop" service="x"}', "expected '}' to close the stream selector", 16),
    ('{app=="minishop"}', "unknown operator '=='", 4),
    ('{app="minishop"} | level=="error"', "unknown operator '=='", 24),
    ('{app="minishop"} | status >= "500"', "unknown operator '>='", 26),
    ('{app="minishop}', "unterminated string", 5),
    ("{app=`minishop}", "unterminated string", 5),
    ('{app="x\\', "unterminated string", 5),
    ('{app="x\\q"}', "unknown escape '\\q'", 7),
    ('{app="minishop"} | json', "unsupported: json/logfmt parsers, metric queries", 19),
    ('{app="minishop"} | logfmt | level="error"', "unsupported: json/logfmt parsers", 19),
    ('rate({app="minishop"}[5m])', "unsupported: json/logfmt parsers, metric queries", 0),
    ('sum by (service) (count_over_time({app="x"}[1m]))', "metric queries", 0),
    ('{app="minishop"}[5m]', "metric queries", 16),
    ('{app=~"("}', "invalid regular expression", 6),
    ('{app!~"[z-a]"}', "invalid regular expression", 6),
    ('{app="minishop"} |~ "[a-"', "invalid regular expression", 20),
    ('{app="minishop"} !~ `a)`', "invalid regular expression", 20),
    ('{app="minishop"} |= 42', "unexpected character '4'", 20),
    ('{app="minishop"} |= level', "expected a quoted string after '|='", 20),
    ('app="minishop"', "a query starts with a stream selector", 0),
    ('"payment failed"', "a query starts with a stream selector", 0),
    ('{1app="x"}', "unexpected character '1'", 1),
    ('{app="x",}', "expected a label name after ','", 9),
    ('{app "x"}', "expected an operator (=, !=, =~ or !~) after 'app'", 5),
    ('{app |= "x"}', "expected an operator (=, !=, =~ or !~) after 'app'", 5),
    ('{app="x"} |', "expected a label name after '|'", 11),
    ('{app="x"} | level', "expected an operator", 17),
    ('{app="x"} | level="error" "y"', 'did not expect a string "y" here', 26),
    ('{app="x"} |= "a" or "b"', "did not expect 'or' here", 17),
    ('{app="x"} | "y"', "expected a label name after '|'", 12),
    ('{app="x"} § "y"', "unexpected character '§'", 10),
]


@pytest.mark.parametrize(("text", "fragment", "position"), INVALID)
def test_invalid_query_says_what_and_where(text: str, fragment: str, position: int) -> None:
    with pytest.raises(LogQueryError) as raised:
        parse_logql(text)
    assert fragment in raised.value.message
    assert raised.value.position == position
    assert f"column {position + 1}" in str(raised.value)


def test_attributes_and_resource_may_be_given_as_stored_json() -> None:
    query = parse_logql('{app="minishop"} | order_id="42"')
    row = {
        "service": "orders",
        "level": "info",
        "message": "m",
        "attributes": '{"order.id": "42"}',
        "resource": '{"service.namespace": "minishop"}',
    }
    assert matches(query, row)
    assert not matches(query, {**row, "attributes": "{}"})


FRAGMENTS = [
    "{",
    "}",
    ",",
    "|",
    "|=",
    "!=",
    "|~",
    "!~",
    "=",
    "=~",
    "==",
    "app",
    "level",
    "order_id",
    "json",
    "rate(",
    "[5m]",
    " ",
    "\n",
    '"',
    '"minishop"',
    '"err.*"',
    '"("',
    "`",
    "`a|b`",
    '"\\"',
    '"\\n"',
    "\\",
    "(?i)",
    "x",
]
STAGES = [
    ' |= "a"',
    " != `e`",
    '|~"(?i)FAIL"',
    ' !~ "\\\\d"',
    ' | level="ERROR"',
    ' | status=~"[45].."',
    " | tags!=``",
    ' | nothing=""',
    ' | app!~"mini.*"',
    " | trace_id=~`[0-9a-f]+`",
]
QUERY_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join),
    st.tuples(
        st.sampled_from(['{app="minishop"}', '{level=~"E.*"}', "{trace_id!=``}"]),
        st.lists(st.sampled_from(STAGES * 3 + FRAGMENTS), max_size=6).map("".join),
    ).map("".join),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=QUERY_TEXT)
def test_any_text_parses_or_raises_a_query_error_and_sql_agrees(
    database: sqlite3.Connection, text: str
) -> None:
    try:
        query = parse_logql(text)
    except LogQueryError as raised:
        error = raised
    else:
        assert in_sqlite(database, query) == in_memory(query)
        return
    assert 0 <= error.position <= len(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["app", "level", "service", "status", "tags", "nothing", "trace_id"]),
    op=st.sampled_from(["=", "!=", "=~", "!~"]),
    value=st.text(alphabet=st.sampled_from('ab.*|"\\`()[]{}?+ -7eE0'), max_size=8),
    line=st.sampled_from(["", ' |= "a"', ' != "e"', ' |~ "[A-Z]"', ' !~ "\\\\d"']),
)
def test_well_formed_queries_agree_in_memory_and_in_sqlite(
    database: sqlite3.Connection, name: str, op: str, value: str, line: str
) -> None:
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    try:
        query = parse_logql(f"{{{name}{op}{quoted}}}{line} | {name}{op}{quoted}")
    except LogQueryError as raised:
        error = raised
    else:
        assert in_sqlite(database, query) == in_memory(query)
        return
    assert "invalid regular expression" in error.message
