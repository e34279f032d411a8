"""Prometheus rules and alerts, Alertmanager routing: checked by the tools that run them.

promtool and amtool come from Debian's ``prometheus`` and ``prometheus-alertmanager``
packages, which ``./dev test`` installs: these tests never skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from minishop.cli.stack import StackSettings, plan_stack

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
ALERTMANAGER = DEPLOY / "alertmanager"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: ./dev test installs it (Debian package)"
    return found


def _run(*args: str | Path, cwd: Path = ROOT) -> str:
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _alerts() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "rules" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_prometheus_configuration_and_rules_are_valid() -> None:
    _run(_tool("promtool"), "check", "config", PROMETHEUS / "prometheus.yml")
    _run(_tool("promtool"), "check", "rules", *sorted((PROMETHEUS / "rules").glob("*.yml")))


def test_the_alert_unit_tests_pass() -> None:
    files = sorted(path.relative_to(PROMETHEUS) for path in PROMETHEUS.glob("tests/*.test.yml"))
    assert len(files) >= 2
    output = _run(_tool("promtool"), "test", "rules", *files, cwd=PROMETHEUS)
    assert output.count("SUCCESS") == len(files)


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not() -> None:
    tests = [
        test
        for path in PROMETHEUS.glob("tests/*.test.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
    ]
    checks = [check for test in tests for check in test.get("alert_rule_test", [])]
    for alert in _alerts():
        name = alert["alert"]
        outcomes = [bool(check["exp_alerts"]) for check in checks if check["alertname"] == name]
        assert True in outcomes, f"no test fires {name}"
        assert False in outcomes, f"no test shows {name} staying quiet"


def test_every_alert_tells_a_person_what_happened_and_where_to_look() -> None:
    recording = yaml.safe_load((PROMETHEUS / "rules" / "recording.yml").read_text())["groups"]
    records = {rule["record"] for group in recording for rule in group["rules"]}
    for alert in _alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        annotations = alert["annotations"]
        assert annotations["summary"], name
        assert "$value" in annotations["description"], f"{name}: description without the value"
        runbook = ROOT / annotations["runbook_url"]
        assert runbook.is_file(), f"{name}: runbook {runbook} is missing"
        text = runbook.read_text()
        assert name in text, f"{runbook.name} does not name {name}"
        for section in ("## Dashboard", "## Queries", "## Traces and logs"):
            assert section in text, f"{runbook.name} lacks {section!r}"
    assert "service:request_error:ratio_rate1m" in records


def test_recording_rules_follow_the_level_metric_operations_naming() -> None:
    groups = yaml.safe_load((PROMETHEUS / "rules" / "recording.yml").read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        level, metric, operations = rule["record"].split(":")
        assert level and metric and operations, rule["record"]


def test_the_alertmanager_configuration_is_valid_and_routes_by_severity() -> None:
    amtool = _tool("amtool")
    _run(amtool, "check-config", ALERTMANAGER / "alertmanager.yml")
    config = str(ALERTMANAGER / "alertmanager.yml")
    critical = _run(amtool, "config", "routes", "test", "--config.file", config,
                    "severity=critical", "alertname=HighErrorRate")  # fmt: skip
    warning = _run(amtool, "config", "routes", "test", "--config.file", config,
                   "severity=warning", "alertname=HighLatencyP95")  # fmt: skip
    assert critical.strip() == "slack-critical"
    assert warning.strip() == "slack"
    receivers = yaml.safe_load((ALERTMANAGER / "alertmanager.yml").read_text())["receivers"]
    for receiver in receivers:
        for slack in receiver["slack_configs"]:
            assert slack["send_resolved"] is True, receiver["name"]


@pytest.mark.parametrize("webhook", [None, "https://hooks.slack.com/services/T0/B0/abc"])
def test_the_local_stack_configuration_is_valid_for_both_tools(
    tmp_path: Path, webhook: str | None
) -> None:
    _tool("prometheus")
    _tool("prometheus-alertmanager")
    settings = StackSettings(
        prometheus_port=19090,
        alertmanager_port=19093,
        slack_webhook_url=webhook,
        scrape_interval="1s",
        alert_group_wait="1s",
    )
    # shipping: a service in the manifest but not (yet) in the Compose prometheus.yml
    targets = {
        "gateway": "127.0.0.1:18080",
        "orders": "127.0.0.1:18003",
        "shipping": "127.0.0.1:18005",
    }
    plan = plan_stack(settings, tmp_path, targets, "http://127.0.0.1:18090")
    assert plan.missing == []
    assert {spec.name for spec in plan.specs} == {"prometheus", "alertmanager"}
    assert list(tmp_path.iterdir()) == [], "planning writes nothing (`minishop status` plans)"
    plan.write_configs()

    prometheus_file = tmp_path / "prometheus" / "prometheus.yml"
    _run(_tool("promtool"), "check", "config", prometheus_file)
    prometheus = yaml.safe_load(prometheus_file.read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]
    }
    assert jobs == {
        "gateway": ["127.0.0.1:18080"],
        "orders": ["127.0.0.1:18003"],
        "shipping": ["127.0.0.1:18005"],
        "alertmanager": ["127.0.0.1:19093"],
        "prometheus": ["127.0.0.1:19090"],
    }
    assert prometheus["global"]["scrape_interval"] == "1s"
    assert prometheus["rule_files"] == [str(PROMETHEUS / "rules" / "*.yml")]

    alertmanager_file = tmp_path / "alertmanager" / "alertmanager.yml"
    _run(_tool("amtool"), "check-config", alertmanager_file)
    alertmanager = yaml.safe_load(alertmanager_file.read_text())
    urls = {s["api_url"] for r in alertmanager["receivers"] for s in r["slack_configs"]}
    assert urls == {webhook or "http://127.0.0.1:18090/services/minishop/alerts"}
    assert alertmanager["route"]["group_wait"] == "1s"
    assert alertmanager["route"]["repeat_interval"] == "2h"  # not overridden: kept
