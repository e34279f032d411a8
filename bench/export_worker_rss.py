"""The span exporter process's resident memory: idle after start, then after sending spans.

Every service runs one exporter process, so its RSS is paid once per service. This starts
the worker exactly as a service does (``ExporterProcess``: same command, flags and
environment), waits ``--settle`` seconds, reads ``VmRSS``/``VmHWM`` from
``/proc/<pid>/status``, then hands it ``--spans`` flattened spans (8 attributes each, in
chunks of ``CHUNK_SPANS`` as the service does) that it encodes and POSTs to
``bench/otlp_sink.py``, waits for its reports on every span, and reads them again. The
figures of a bare interpreter (``python -c pass`` kept alive the same way) are printed
alongside as the floor.

    nice .venv/bin/python bench/export_worker_rss.py [--spans 5000] [--settle 1.0]
"""

from __future__ import annotations

import argparse
import marshal
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from minishop.observability.export_process import ExporterProcess
from minishop.observability.otlp_encoding import flat_span
from minishop.observability.tracing import build_resource
from minishop.observability.worker_export import CHUNK_SPANS

ATTRIBUTES = {
    "http.request.method": "POST", "http.route": "/api/v1/orders", "url.path": "/api/v1/orders",
    "http.response.status_code": 201, "server.address": "127.0.0.1", "server.port": 8003,
    "order.id": 12345, "order.total": 59.9,
}  # fmt: skip


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of ``pid``, in kB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0])
    return figures


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the sink did not listen on port {port}")


def _flat_spans(count: int) -> list[tuple]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=build_resource("orders", "1.0", "bench"))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("minishop")
    for _ in range(count):
        tracer.start_span("CreateOrder", attributes=ATTRIBUTES).end()
    return [flat_span(span) for span in exporter.get_finished_spans()]


def measure_worker(spans: list[tuple], settle: float) -> dict[str, dict[str, int]]:
    settled = threading.Event()
    reports = {"sent": 0, "other": 0}

    def on_report(kind: int, count: int) -> None:
        reports["sent" if kind == 0 else "other"] += count
        if reports["sent"] + reports["other"] >= len(spans):
            settled.set()

    worker = ExporterProcess(max_queue=2048, max_batch=512, budget_ms=800, on_report=on_report)
    try:
        time.sleep(settle)
        idle = memory_kb(worker.pid)
        for start in range(0, len(spans), CHUNK_SPANS):
            chunk = spans[start : start + CHUNK_SPANS]
            worker.send(marshal.dumps(chunk), len(chunk))
            time.sleep(0.01)  # 6,400 spans/s: the worker keeps up, none is dropped for room
        if not settled.wait(30):
            raise RuntimeError(f"the worker reported on {reports} of {len(spans)} spans")
        busy = memory_kb(worker.pid)
    finally:
        worker.close_input()
        worker.ended.wait(5)
        worker.kill()
    return {"idle": idle, "after": busy, "reports": reports}


def measure_bare(settle: float) -> dict[str, int]:
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        time.sleep(settle)
        return memory_kb(process.pid)
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=5000)
    parser.add_argument("--settle", type=float, default=1.0)
    args = parser.parse_args()
    port = _free_port()
    sink = Path(__file__).with_name("otlp_sink.py")
    sink_process = subprocess.Popen([sys.executable, str(sink), "--port", str(port)])
    try:
        _wait_for_port(port)
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
        spans = _flat_spans(args.spans)
        bare = measure_bare(args.settle)
        worker = measure_worker(spans, args.settle)
    finally:
        sink_process.terminate()
        sink_process.wait()

    def mb(figures: dict[str, int]) -> str:
        return f"VmRSS {figures['VmRSS'] / 1024:6.1f} MB  VmHWM {figures['VmHWM'] / 1024:6.1f} MB"

    print(f"bare interpreter (python -c)        {mb(bare)}")
    print(f"exporter process, idle after start   {mb(worker['idle'])}")
    print(f"exporter process, after {args.spans} spans  {mb(worker['after'])}  {worker['reports']}")


if __name__ == "__main__":
    main()
