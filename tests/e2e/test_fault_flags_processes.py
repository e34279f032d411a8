"""``minishop chaos`` against the real processes: a readiness fault on and off, end to end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.flags import chaos
from tests.support.processes import RunningShop, shop_processes

pytestmark = pytest.mark.e2e


def samples(running: RunningShop, service: str, name: str) -> dict[tuple, float]:
    """``name``'s samples on ``service``'s /metrics, by their labels other than ``service``."""
    text = httpx.get(f"{running.urls[service]}/metrics", timeout=5).text
    return {
        tuple(sorted((k, v) for k, v in sample.labels.items() if k != "service")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def ready(running: RunningShop, service: str) -> httpx.Response:
    return httpx.get(f"{running.urls[service]}/health/ready", timeout=5)


def test_chaos_readiness_failure_takes_users_out_and_back(tmp_path: Path) -> None:
    with shop_processes(tmp_path) as running:
        assert ready(running, "users").status_code == 200

        output = chaos(running, "set", "readiness_failure", "users")
        assert "readiness_failure: users" in output
        failing = ready(running, "users")
        assert failing.status_code == 503
        assert failing.json()["checks"]["fault_flag"] == {
            "status": "fail",
            "error": "readiness_failure flag is on",
            "duration_ms": failing.json()["checks"]["fault_flag"]["duration_ms"],
        }
        assert httpx.get(f"{running.urls['users']}/health/live", timeout=5).status_code == 200
        assert samples(running, "users", "service_ready") == {(): 0.0}
        assert ready(running, "gateway").status_code == 200  # it needs users alive, not ready
        assert samples(running, "products", "service_ready") == {(): 1.0}

        chaos(running, "clear", "readiness_failure")
        assert ready(running, "users").status_code == 200
        assert samples(running, "users", "service_ready") == {(): 1.0}

        for service in ("users", "gateway"):  # every process saw both changes, and counted them
            changes = samples(running, service, "feature_flag_changes_total")
            assert changes[(("flag", "readiness_failure"), ("variant", "on"))] == 1.0, service
            assert changes[(("flag", "readiness_failure"), ("variant", "off"))] == 1.0, service
        logged = [
            (line["variant"], line["value"])
            for service, line in running.log_lines()
            if service == "users"
            and line.get("message") == "feature flag changed"
            and line.get("flag") == "readiness_failure"
        ]
        assert logged == [("on", "users"), ("off", "off")]
