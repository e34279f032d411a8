"""Alerts that really fire: the shop, Prometheus, Alertmanager and the Slack receiver as
real processes started by ``minishop up``, with short scrape and evaluation intervals.

The rules, routes and templates are the repository's own (``deploy/``), unchanged.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from minishop.manifest import MANIFEST
from tests.support.flags import chaos
from tests.support.helpers import wait_until
from tests.support.processes import RunningShop, shop_processes
from tests.support.promql import comparisons_as_bool, query, with_grafana_variables
from tests.support.traffic import ALERT_DEADLINE, FAST_STACK, Traffic

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    directory = tmp_path_factory.mktemp("stack")
    with shop_processes(directory, FAST_STACK, stack=True) as running, Traffic(running):
        yield running


def _messages(stack: RunningShop) -> list[dict]:
    return httpx.get(f"{stack.urls['slack-receiver']}/messages", timeout=5).json()["messages"]


def _set_failure_rate(stack: RunningShop, rate: float) -> None:
    """Decline ``rate`` of payments with the payment_failure flag (0 clears it: base rate 0)."""
    if rate:
        chaos(stack, "set", "payment_failure", str(round(rate * 100)))
    else:
        chaos(stack, "clear", "payment_failure")


def test_every_url_the_banner_prints_answers(stack: RunningShop) -> None:
    """The start banner is where a newcomer looks first: each link it prints must open.

    Debian's Prometheus serves its pages only under ``/classic``; the banner asks the
    running server where they are instead of assuming.
    """
    log = stack.log_path.read_text(errors="replace")
    banner = log[log.index("MiniShop is up") :].split("Place an order:")[0]
    urls = sorted(set(re.findall(r"http://127\.0\.0\.1:\d+[^\s']*", banner)))
    assert any("/targets" in url for url in urls), banner
    with httpx.Client(timeout=5, follow_redirects=True) as client:
        answers = {url: client.get(url).status_code for url in urls}
    failing = {url: status for url, status in answers.items() if status != 200}
    assert not failing, (failing, banner)


def test_prometheus_scrapes_every_target_and_loads_every_rule(stack: RunningShop) -> None:
    prometheus = stack.urls["prometheus"]

    def all_up() -> dict[str, str] | None:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        health = {t["labels"]["job"]: t["health"] for t in targets["activeTargets"]}
        return health if set(health.values()) == {"up"} else None

    health = wait_until(all_up, timeout=30, interval=0.5, message="every target up")
    assert set(health) == {*MANIFEST.names, "alertmanager", "prometheus"}  # type: ignore[arg-type]
    loaded = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    expected = [
        group["name"]
        for path in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert sorted(group["name"] for group in loaded) == sorted(expected)
    assert all(rule["health"] != "err" for group in loaded for rule in group["rules"])
    status = subprocess.run(
        [sys.executable, "-m", "minishop", "status"],
        env={**os.environ, **stack.port_env()},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout
    # Every process of the manifest, Prometheus and Alertmanager.
    assert status.stdout.count(" ready") == len(MANIFEST.names) + 2, status.stdout
    alertmanagers = httpx.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()["data"]
    assert [am["url"] for am in alertmanagers["activeAlertmanagers"]] == [
        f"{stack.urls['alertmanager']}/api/v2/alerts"
    ]


def _alert_messages(stack: RunningShop, status: str, alert: str, label: str) -> list[dict]:
    return [
        message
        for message in _messages(stack)
        if message["title"].startswith(f"[{status}")
        and alert in message["title"]
        and label in message["title"]
    ]


def test_payment_failure_and_readiness_faults_reach_slack_then_resolve(
    stack: RunningShop, record_property: Callable[[str, object], None]
) -> None:
    """Two faults at once, through the real Prometheus and Alertmanager: payment_failure
    raises ``HighErrorRate``, readiness_failure on users ``ServiceNotReady``; each reaches
    the Slack receiver, and each resolves once its flag is cleared."""
    high_error_rate = ("HighErrorRate", "")
    not_ready = ("ServiceNotReady", "users")
    for alert in (high_error_rate, not_ready):
        assert not _alert_messages(stack, "FIRING", *alert), f"{alert} fired before any fault"
    _set_failure_rate(stack, 0.5)
    chaos(stack, "set", "readiness_failure", "users")
    injected = time.monotonic()
    try:
        ready = httpx.get(f"{stack.urls['users']}/health/ready", timeout=5)
        assert ready.status_code == 503, ready.text
        firing = {
            alert: wait_until(
                lambda alert=alert: _alert_messages(stack, "FIRING", *alert),
                timeout=ALERT_DEADLINE,
                interval=0.5,
                message=f"{alert[0]} firing in Slack",
            )[0]
            for alert in (high_error_rate, not_ready)
        }
        to_fire = time.monotonic() - injected
        record_property("seconds_from_faults_to_slack", round(to_fire, 1))
    finally:
        _set_failure_rate(stack, 0.0)
        chaos(stack, "clear", "readiness_failure")
    message = firing[high_error_rate]
    assert message["channel"] == "#minishop-oncall"  # critical: the on-call channel
    text = message["attachments"][0]["text"]
    assert "of requests fail" in text
    assert "docs/runbooks/high-error-rate.md" in text
    not_ready_text = firing[not_ready]["attachments"][0]["text"]
    assert "docs/runbooks/service-not-ready.md" in not_ready_text

    repaired = time.monotonic()
    for alert in (high_error_rate, not_ready):
        wait_until(
            lambda alert=alert: _alert_messages(stack, "RESOLVED", *alert),
            timeout=ALERT_DEADLINE,
            interval=0.5,
            message=f"{alert[0]} resolved in Slack",
        )
    to_resolve = time.monotonic() - repaired
    record_property("seconds_from_repair_to_resolved", round(to_resolve, 1))
    print(f"\nfaults → Slack: {to_fire:.1f} s; repair → resolved: {to_resolve:.1f} s")
    log_lines = stack.log_lines()
    assert any(
        service == "slack-receiver"
        and line.get("message") == "slack message received"
        and "HighErrorRate" in line.get("title", "")
        for service, line in log_lines
    ), "the receiver logs each message as a JSON line"


def _rule_expressions() -> list[tuple[str, str]]:
    found = []
    for path in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or rule["alert"]
                found.append((f"{path.name}: {name}", rule["expr"]))
    return found


def _panel_expressions() -> list[tuple[str, str]]:
    found = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        panels = list(dashboard["panels"])
        while panels:
            panel = panels.pop()
            panels.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((f"{path.name}: {panel['title']}", target["expr"]))
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                definition = variable.get("definition", "")
                if definition.startswith("label_values(") and "," in definition:
                    metric = definition[len("label_values(") :].rsplit(",", 1)[0]
                    found.append((f"{path.name}: ${variable['name']}", metric))
    return found


def test_every_dashboard_and_rule_expression_returns_data(stack: RunningShop) -> None:
    """After the traffic above, no panel is empty and no rule reads an unknown metric.

    Alert expressions are sent with their comparisons as ``bool`` so that an alert that
    does not fire still shows that the series it reads exist.
    """
    expressions = _rule_expressions() + _panel_expressions()
    assert len(_panel_expressions()) >= 30, "the dashboards have panels with queries"
    empty = []
    for where, expr in expressions:
        sent = comparisons_as_bool(with_grafana_variables(expr))
        if not query(stack.urls["prometheus"], sent):
            empty.append(f"{where}: {expr.strip()}")
    assert not empty, "no data for:\n" + "\n".join(empty)


def test_exemplars_link_latency_to_traces(stack: RunningShop) -> None:
    now = time.time()
    answer = httpx.get(
        f"{stack.urls['prometheus']}/api/v1/query_exemplars",
        params={"query": "request_duration_seconds_bucket", "start": now - 600, "end": now},
        timeout=5,
    ).json()
    exemplars = [item for series in answer["data"] for item in series["exemplars"]]
    assert exemplars, "Prometheus stores the exemplars the services expose"
    assert all(len(item["labels"]["trace_id"]) == 32 for item in exemplars)
