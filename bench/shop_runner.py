"""Starts the shop the way a user does (``minishop up``) and reads its processes' costs.

CPU time and peak memory come from ``/proc`` (Linux), per service process, so the
figures are the services' own and not the load tool's or the benchmark's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from minishop.manifest import MANIFEST

SHOP = MANIFEST.shop
SERVICES = tuple(entry.name for entry in SHOP)
WITH_DATABASE = tuple(entry.name for entry in MANIFEST.with_database if entry.part_of_shop)
READY_MARKER = "MiniShop is up"
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


EXPORTERS = "span exporter processes"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the high-water mark since start), in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def peak_rss_mb(pid: int) -> float:
    """The process' resident-memory high-water mark (VmHWM) since it started."""
    return memory_mb(pid).get("VmHWM", 0.0)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop, telemetry flushed), then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_report(output: Path, stem: str, result: Mapping[str, object], table: str) -> None:
    """``<stem>.json`` and ``<stem>.md`` in ``output``; the table is printed too."""
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (output / f"{stem}.md").write_text(table)
    print(table)
    print(f"written: {output / stem}.json and .md", file=sys.stderr)


@dataclass
class RunningShop:
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    pids: dict[str, int]  # service name → its process
    ready_seconds: float
    log_path: Path

    @property
    def gateway(self) -> str:
        """The shop's entry point: where clients send their requests."""
        entry_point = MANIFEST.entry_point
        assert entry_point is not None, "the manifest names no entry point"
        return self.url(entry_point.name)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def cpu(self) -> dict[str, float]:
        figures = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        figures[EXPORTERS] = sum(cpu_seconds(pid) for pid in self.exporter_pids())
        figures["minishop up (log relay)"] = cpu_seconds(self.process.pid)
        return figures

    def peak_rss(self) -> dict[str, float]:
        figures = {name: peak_rss_mb(pid) for name, pid in self.pids.items()}
        figures[EXPORTERS] = sum(peak_rss_mb(pid) for pid in self.exporter_pids())
        return figures

    def exporter_pids(self) -> list[int]:
        """The services' span exporter processes (``minishop.export_worker``), started with
        their first spans: their CPU and memory are the services' telemetry cost too."""
        found = []
        for pid in self.pids.values():
            for task in Path(f"/proc/{pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    with contextlib.suppress(OSError):
                        argv = Path(f"/proc/{child}/cmdline").read_bytes()
                        if b"minishop.export_worker" in argv:
                            found.append(int(child))
        return found

    def stop(self) -> None:
        stop_process(self.process)


def _children(pid: int) -> dict[str, int]:
    """The services among a process' children, by the name in their command line."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            name = next((arg.decode() for arg in reversed(argv) if arg), "")
            if name in SERVICES:
                found[name] = int(child)
    return found


def start_shop(
    data_dir: Path, env: Mapping[str, str], log_path: Path, timeout: float = 60
) -> RunningShop:
    """``minishop up --no-stack`` on free ports; returns once every service is ready."""
    ports = {name: free_port() for name in SERVICES}
    full_env = {
        **os.environ,
        **{entry.port_variable: str(ports[entry.name]) for entry in SHOP},
        **env,
    }
    command = [sys.executable, "-m", "minishop", "up", "--no-stack", "--data-dir", str(data_dir)]
    with log_path.open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=full_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    while True:
        text = log_path.read_text(errors="replace")
        if READY_MARKER in text:
            ready = time.monotonic() - started
            break
        if process.poll() is not None or time.monotonic() - started > timeout:
            process.kill()
            raise RuntimeError(f"the shop did not start:\n{text[-3000:]}")
        time.sleep(0.02)
    pids = _children(process.pid)
    if set(pids) != set(SERVICES):
        process.kill()
        raise RuntimeError(f"could not find every service process: {pids}")
    return RunningShop(process, ports, pids, ready, log_path)
