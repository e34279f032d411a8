"""What the load generator itself costs: its CPU per 1,000 requests, its share of a core and
its peak memory, at 50 simulated users against a running shop.

Starts the five services with ``minishop up`` on free ports, then the generator as
``minishop load`` runs it (``python -m minishop.loadgen``), lets every user start, and
measures a window of ``--seconds``: the generator's own CPU time from ``/proc`` (not the
shop's) and the requests the gateway served in that window (``request_total`` on its
``/metrics``: the generator is its only client). Peak RSS is the generator's VmHWM.

    .venv/bin/python bench/loadgen.py                  # 50 users, think time 1-3 s, 30 s
    .venv/bin/python bench/loadgen.py --think-min 0.05 --think-max 0.2   # pressed harder
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from shop_runner import SHOP, cpu_seconds, memory_mb, start_shop, write_report

HERE = Path(__file__).resolve().parent


def served(gateway: str) -> float:
    """Requests the gateway has served so far (every route and status)."""
    text = httpx.get(f"{gateway}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "request"
        for sample in family.samples
        if sample.name == "request_total"
    )


def wait_for(path: Path, marker: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while marker not in path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the generator did not start:\n{path.read_text()[-3000:]}")
        time.sleep(0.1)


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    quiet = {f"{entry.env_prefix}LOG_LEVEL": "WARNING" for entry in SHOP}
    shop = start_shop(work / "data", quiet, work / "shop.log")
    log = work / "loadgen.log"
    try:
        command = [
            sys.executable, "-m", "minishop.loadgen",
            "--host", shop.gateway,
            "--users", str(args.users),
            "--spawn-rate", str(args.spawn_rate),
            "--think-min", str(args.think_min),
            "--think-max", str(args.think_max),
            "--progress-interval", "0",
            "--flags-file", str(work / "flags.json"),
        ]  # fmt: skip
        with log.open("wb") as out:
            started = time.monotonic()
            generator = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_for(log, "users against", generator, timeout=60)
        start_seconds = time.monotonic() - started
        idle_rss = memory_mb(generator.pid)["VmRSS"]
        time.sleep(args.users / args.spawn_rate + args.think_max + 1)  # every user walking
        cpu_before, requests_before, window_start = (
            cpu_seconds(generator.pid),
            served(shop.gateway),
            time.monotonic(),
        )
        time.sleep(args.seconds)
        cpu = cpu_seconds(generator.pid) - cpu_before
        window = time.monotonic() - window_start
        requests = served(shop.gateway) - requests_before
        memory = memory_mb(generator.pid)
        generator.send_signal(signal.SIGINT)
        generator.wait(timeout=30)
    finally:
        if "generator" in locals() and generator.poll() is None:
            generator.kill()
        shop.stop()
    summary = [line for line in log.read_text().splitlines() if line.startswith("Load summary")]
    return {
        "users": args.users,
        "think_seconds": [args.think_min, args.think_max],
        "window_seconds": round(window, 1),
        "requests": int(requests),
        "requests_per_second": round(requests / window, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_seconds_per_1000_requests": round(cpu / requests * 1000, 3) if requests else None,
        "core_percent": round(cpu / window * 100, 1),
        "peak_rss_mb": round(memory["VmHWM"], 1),
        "rss_mb_at_start": round(idle_rss, 1),
        "start_seconds": round(start_seconds, 1),
        "generator_summary": summary[0] if summary else None,
        "exit_code": generator.returncode,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        ("simulated users", result["users"]),
        ("think time (s)", "-".join(f"{value:g}" for value in result["think_seconds"])),
        ("measured window (s)", result["window_seconds"]),
        ("requests served in it", result["requests"]),
        ("requests per second", result["requests_per_second"]),
        ("generator CPU (s)", result["cpu_seconds"]),
        ("CPU s per 1,000 requests", result["cpu_seconds_per_1000_requests"]),
        ("share of one core (%)", result["core_percent"]),
        ("peak RSS (MB)", result["peak_rss_mb"]),
        ("RSS once started (MB)", result["rss_mb_at_start"]),
        ("start-up to first user (s)", result["start_seconds"]),
    ]
    lines = [
        "| load generator | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    return "\n".join([*lines, "", f"{result['machine']}; {result['generator_summary']}", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="the measured window")
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=3.0)
    parser.add_argument("--output", type=Path, default=HERE / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minishop-loadgen-bench-") as work:
        result = measure(args, Path(work))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    write_report(args.output, f"loadgen-{stamp}", result, markdown(result))


if __name__ == "__main__":
    main()
