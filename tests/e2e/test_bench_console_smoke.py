"""The console benchmark's quick mode runs end to end and reports every figure.

A smoke test: no assertion on speed (figures are for people to read, not for CI), only that
each of the four measurements produced its numbers and the table shows them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "console.py"
SEARCHES = (
    "/api/traces (no filter)",
    "/api/traces service",
    "/api/traces service+operation",
    "/api/traces status=error",
    "/api/traces min_duration_ms=1000",
    "/api/traces attr rare (order.id)",
    "/api/traces attr common (status 200)",
    "/api/traces/{id}",
    "/api/logs payment failed",
    "/api/logs \\| trace_id=…",
    "/api/logs line filter matching nothing",
    "page /traces",
    "page /logs payment failed",
)


def test_quick_console_benchmark_reports_every_figure(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--output", str(tmp_path),
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (result_file,) = tmp_path.glob("console-*.json")
    (table_file,) = tmp_path.glob("console-*.md")
    result = json.loads(result_file.read_text())

    steps = result["ingest"]["steps"]
    assert {step["signal"] for step in steps} == {"spans", "logs"}
    for step in steps:
        assert step["accepted_per_second"] > 0
        assert step["requests"]["ok"] > 0
        assert step["metrics"]["accepted"] >= step["requests"]["ok"] * 512
        assert step["metrics"]["dropped"] == 0
        assert step["cpu_ms_per_1000_items"] > 0
    assert set(result["ingest"]["capacity_per_second"]) == {"spans", "logs"}

    order = result["order_path"]["summary"]
    for target in ("console", "sink"):
        assert order[target]["orders_per_second"] > 0
        assert order[target]["spans_exported"] > 0
        assert 0 <= order[target]["receiver_cpu_share"] < 1  # the sink's may round to 0
    assert order["console"]["receiver_cpu_share"] > 0
    assert order["console"]["items"]["spans_accepted"] > 0
    assert order["console"]["items"]["logs_accepted"] > 0
    assert [r["target"] for r in result["order_path"]["rounds"]] == ["console", "sink"]

    rss = result["rss"]
    for when in ("idle", "after_ingest", "after_order_path", "after_search"):
        assert rss[when]["VmRSS"] > 0 and rss[when]["VmHWM"] >= rss[when]["VmRSS"]
    assert rss["order_path_peak_rss"] > 0

    search = result["search"]
    assert search["store"]["spans"] == search["store"]["traces"] * 10
    timings = {timing["request"]: timing for timing in search["timings"]}
    assert set(SEARCHES) <= set(timings)
    assert any(label.startswith("/api/services") for label in timings)
    for timing in timings.values():
        assert timing["status"] == 200, timing
        assert timing["median_ms"] > 0
    # the searches that should find something did (the fill is realistic, not empty)
    for label in ("/api/traces attr rare (order.id)", "/api/logs payment failed",
                  "/api/logs \\| trace_id=…", "/api/traces status=error"):  # fmt: skip
        assert timings[label]["bytes"] > 100, timings[label]

    table = table_file.read_text()
    for heading in ("**1. Ingest**", "**2. Order path", "**3. Console memory**", "**4. Search**"):
        assert heading in table
    assert table in run.stdout
