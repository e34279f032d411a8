"""The incident puzzles, the alerts and their runbooks tell the truth about each other.

Every fault flag has a puzzle page naming an alert that exists; every alert has a runbook
and a promtool test that fires it; every dashboard panel a page quotes exists; and every
metric an alert, a recording rule, a runbook or a page reads is one the code declares (or
one of prometheus_client's process metrics), so a renamed metric cannot leave an alert or
a page silently reading nothing.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from prometheus_client.core import CollectorRegistry

from minishop.flags import CATALOG
from minishop.observability import ServiceMetrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
INCIDENTS = ROOT / "docs" / "incidents"
RUNBOOKS = ROOT / "docs" / "runbooks"
SOURCE = ROOT / "src"

# How a page quotes a panel: **Dashboard title**, the separator U+203A (a single right
# angle quote), then *Panel title* (or *A* and *B*, or *A*, *B*).
PANEL_QUOTE = re.compile(r"\*\*([^*\n]+)\*\* \u203a ((?:\*[^*\n]+\*(?:, | and )?)+)")
BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
PROMQL_BLOCK = re.compile(r"```promql\n(.*?)```", re.S)
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# A metric quoted inline: a selector with labels, or a name with a metric's unit suffix.
INLINE_METRIC = re.compile(
    r"^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\}|_total|_seconds|_bytes|_bucket)$"
)
BUDGET = re.compile(r"about (?:\d+(?:\.\d+)? )?(?:a |\d+ )?(?:minutes?|seconds?)")

# Words of PromQL that are not metric names (functions are found by their parenthesis).
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan", "Inf", "NaN",
}  # fmt: skip
# Series Prometheus makes itself rather than scrapes from the code.
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"}
# The calls that declare a metric in the code, and the names each one exposes.
DECLARATION = re.compile(
    r"\b(counter|gauge|histogram|gauge_callback|Counter|Gauge|Histogram)\(\s*"
    r"['\"]([a-zA-Z_:][a-zA-Z0-9_:]*)['\"]"
)


def _exposed(kind: str, name: str) -> set[str]:
    kind = kind.lower()
    if kind == "counter":
        base = name.removesuffix("_total")
        return {base + "_total"}
    if kind == "histogram":  # a page may name the histogram itself
        return {name, name + "_bucket", name + "_sum", name + "_count"}
    return {name}


@cache
def declared_metrics() -> frozenset[str]:
    """Every metric name a MiniShop process can expose: what the code declares, and the
    process, platform and garbage-collector metrics of prometheus_client that every
    service registers (collected from a real ServiceMetrics, not listed by hand)."""
    names: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for kind, name in DECLARATION.findall(path.read_text()):
            names |= _exposed(kind, name)
    registry: CollectorRegistry = ServiceMetrics("incidents-test", restarts=0).registry
    for family in registry.collect():
        names |= {sample.name for sample in family.samples}
    return frozenset(names)


def _rule_groups(name: str) -> list[dict]:
    return yaml.safe_load((PROMETHEUS / "rules" / name).read_text())["groups"]


@cache
def alerts() -> dict[str, dict]:
    return {
        rule["alert"]: rule
        for group in _rule_groups("alerts.yml")
        for rule in group["rules"]
        if "alert" in rule
    }


@cache
def recorded() -> dict[str, str]:
    return {
        rule["record"]: rule["expr"]
        for group in _rule_groups("recording.yml")
        for rule in group["rules"]
    }


@cache
def dashboards() -> dict[str, set[str]]:
    """Each dashboard's title and the titles of its panels, rows included."""
    found: dict[str, set[str]] = {}
    for path in DASHBOARDS.glob("*.json"):
        dashboard = json.loads(path.read_text())
        titles: set[str] = set()
        panels = list(dashboard["panels"])
        while panels:
            panel = panels.pop()
            panels.extend(panel.get("panels", []))
            titles.add(panel["title"])
        found[dashboard["title"]] = titles
    return found


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (label names, strings, durations, numbers,
    functions and keywords left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expr)  # strings (label_replace's arguments)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    text = re.sub(r"\boffset\s+\S+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![0-9.a-zA-Z_:$])([a-zA-Z_:][a-zA-Z0-9_:]*)", text):
        word = match.group(1)
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or word in PROMQL_WORDS:
            continue  # a function or aggregation, or a keyword
        names.add(word)
    return names


def unknown_metrics(expr: str) -> set[str]:
    """The names ``expr`` reads that neither the code, Prometheus nor a recording rule makes."""
    known = declared_metrics() | PROMETHEUS_SERIES | set(recorded())
    return {name for name in metric_names(expr) if name not in known}


def page_queries(text: str) -> list[str]:
    """The PromQL of a Markdown page: its promql blocks, line by line, and inline metrics."""
    queries = [
        line.split("#", 1)[0]
        for block in PROMQL_BLOCK.findall(text)
        for line in block.splitlines()
        if line.split("#", 1)[0].strip()
    ]
    queries += [code for code in INLINE_CODE.findall(text) if INLINE_METRIC.match(code)]
    return queries


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def incident_pages() -> list[Path]:
    return sorted(path for path in INCIDENTS.glob("*.md") if path.name != "README.md")


# -- the helpers read what they should ---------------------------------------------------


def test_metric_names_are_read_out_of_promql() -> None:
    expr = (
        'sum by (service, route) (rate(request_total{status=~"5.."}[2m])) * 60 > 0 '
        "and on (service) quantile_over_time(0.5, service:request_total:rate1m[30m] offset 5m)"
        ' or label_replace(x_bytes, "service", "$1", "job", "(.*)") / 1e9 > bool 20e3'
    )
    assert metric_names(expr) == {"request_total", "service:request_total:rate1m", "x_bytes"}
    assert unknown_metrics("rate(request_totl[1m]) + process_cpu_seconds_total") == {"request_totl"}


def test_the_declared_metrics_include_the_code_and_the_process_collector() -> None:
    names = declared_metrics()
    assert {"request_total", "request_duration_seconds_bucket", "payments_total"} <= names
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names
    assert "payment_provider_failure_rate" in names
    assert "request" not in names and "payments" not in names


# -- flags, pages and alerts -------------------------------------------------------------


@pytest.mark.parametrize("flag", [spec.name for spec in CATALOG])
def test_every_flag_has_a_puzzle_naming_an_alert_that_exists(flag: str) -> None:
    page = INCIDENTS / f"{flag}.md"
    assert page.is_file(), f"docs/incidents/{flag}.md is missing"
    text = page.read_text()
    first = _section(text, "What you see first")
    named = {word for word in BOLD.findall(first) if word in alerts()}
    assert named, f"{page.name} names no alert of alerts.yml in 'What you see first'"
    assert BUDGET.search(first), f"{page.name} does not say how soon its alert fires"
    assert PANEL_QUOTE.search(first), f"{page.name} does not say which panel shows it"
    for section in ("## Questions to ask", "## Hints"):
        assert section in text, f"{page.name} lacks {section!r}"
    answer = text[text.index("<details>") :]
    assert "</details>" in answer and "<summary>" in answer, f"{page.name}: answer not folded"
    assert f"minishop chaos clear {flag}" in answer, f"{page.name}: the answer says how to end it"


def test_every_puzzle_page_is_a_flag_and_the_readme_lists_them_all() -> None:
    flags = {spec.name for spec in CATALOG}
    assert {path.stem for path in incident_pages()} == flags
    readme = (INCIDENTS / "README.md").read_text()
    for flag in flags:
        assert f"({flag}.md)" in readme, f"README.md does not link {flag}.md"


@pytest.mark.parametrize("page", incident_pages(), ids=lambda path: path.name)
def test_what_a_page_puts_in_bold_is_an_alert_or_a_dashboard(page: Path) -> None:
    text = page.read_text()
    for word in BOLD.findall(text):
        if word.startswith("MiniShop "):
            assert word in dashboards(), f"{page.name}: no dashboard titled {word!r}"
        else:
            assert word in alerts(), f"{page.name}: no alert named {word!r} in alerts.yml"


@pytest.mark.parametrize("page", incident_pages(), ids=lambda path: path.name)
def test_every_panel_a_page_quotes_exists(page: Path) -> None:
    quotes = PANEL_QUOTE.findall(page.read_text())
    assert quotes
    for dashboard, panels in quotes:
        assert dashboard in dashboards(), f"{page.name}: no dashboard titled {dashboard!r}"
        for panel in re.findall(r"\*([^*\n]+)\*", panels):
            assert panel in dashboards()[dashboard], (
                f"{page.name}: {dashboard!r} has no panel titled {panel!r}"
            )


def test_every_alert_a_page_names_states_its_budget_in_its_rule() -> None:
    """The rule's comment says how soon after its fault it fires, as the page does."""
    raw = (PROMETHEUS / "rules" / "alerts.yml").read_text()
    blocks = re.split(r"\n\s+- alert: ", raw)[1:]
    comments = {block.split("\n", 1)[0].strip(): block for block in blocks}
    named = {word for page in incident_pages() for word in BOLD.findall(page.read_text())} & set(
        alerts()
    )
    assert named
    for name in named:
        lines = comments[name].split("\n")
        comment = " ".join(line.strip() for line in lines if line.strip().startswith("#"))
        assert re.search(r"Fires (?:within )?~", comment), f"{name}: no budget in its comment"


# -- alerts, runbooks, tests -------------------------------------------------------------


@cache
def fired_in_tests() -> set[str]:
    fired = set()
    for path in PROMETHEUS.glob("tests/*.test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    return fired


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_has_a_runbook_and_a_test_that_fires_it(name: str) -> None:
    runbook = ROOT / alerts()[name]["annotations"]["runbook_url"]
    assert runbook.is_file() and runbook.parent == RUNBOOKS, f"{name}: no runbook {runbook}"
    assert "## In the console (local mode)" in runbook.read_text(), runbook.name
    assert name in fired_in_tests(), f"no promtool test expects {name} to fire"


# -- metric names ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_metric_an_alert_reads_is_declared(name: str) -> None:
    expr = alerts()[name]["expr"]
    # through the recording rules it reads, down to the scraped series
    pending, seen = [expr], set()
    while pending:
        current = pending.pop()
        assert not unknown_metrics(current), f"{name} reads {unknown_metrics(current)}"
        for used in metric_names(current) & (set(recorded()) - seen):
            seen.add(used)
            pending.append(recorded()[used])


def test_every_metric_a_recording_rule_reads_is_declared() -> None:
    unknown = {record: unknown_metrics(expr) for record, expr in recorded().items()}
    assert not {record: names for record, names in unknown.items() if names}


@pytest.mark.parametrize(
    "page",
    [*incident_pages(), INCIDENTS / "README.md", *sorted(RUNBOOKS.glob("*.md"))],
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_every_metric_a_page_names_is_declared(page: Path) -> None:
    text = page.read_text()
    unknown = {query: unknown_metrics(query) for query in page_queries(text)}
    assert not {query: names for query, names in unknown.items() if names}, page.name
