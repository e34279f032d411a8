"""The exporter process of one service: started, fed, listened to, restarted.

``ExporterProcess`` spawns ``python -m minishop.export_worker`` (a fresh interpreter that
imports the standard library only) and keeps the books on what it was handed: ``handed``
spans written to its stdin, ``settled`` spans it has reported on (sent, failed or dropped).
The difference is what a worker that dies takes with it, and its owner counts it as dropped.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable

from minishop.export_worker import protocol

Report = Callable[[int, int], None]

# -S: no ``site``; the worker needs nothing from site-packages, and ``_child_environment``
# puts the directory this package was imported from on PYTHONPATH, which -S keeps (an
# editable checkout or an installed package alike). It skips the .pth files and what they
# import (setuptools' distutils shim): ~0.3 MB. -E and -I are not used: they would drop the
# OTEL_EXPORTER_OTLP_* settings and that PYTHONPATH.
WORKER_FLAGS = ("-S",)


class ExporterProcess:
    """One worker process; ``send`` from one thread, reports read on a thread of its own.

    ``handed`` changes under the write lock only, after a frame is written whole, and
    ``settled`` on the report thread only: the report thread never waits for a write
    (which may wait for the worker), so the two pipes cannot hold each other up.
    """

    def __init__(
        self, *, max_queue: int, max_batch: int, budget_ms: int, on_report: Report
    ) -> None:
        command = [
            sys.executable,
            *WORKER_FLAGS,
            "-m",
            "minishop.export_worker",
            f"--max-queue={max_queue}",
            f"--max-batch={max_batch}",
            f"--budget-ms={budget_ms}",
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            env=_child_environment(),
        )
        self._stdin = self.process.stdin
        self._lock = threading.Lock()
        self._on_report = on_report
        self.handed = 0
        self.settled = 0
        self.closed = False  # stdin closed or broken: nothing more is handed over
        self.ended = threading.Event()  # the report pipe reached its end: the worker is gone
        self._reader = threading.Thread(
            target=self._read_reports, name="minishop-span-reports", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def outstanding(self) -> int:
        return self.handed - self.settled

    def send(self, payload: bytes, count: int) -> bool:
        """Writes one frame of ``count`` spans; False when the worker is gone (nothing handed)."""
        frame = protocol.frame_header(protocol.SPANS, len(payload)) + payload
        with self._lock:
            if self.closed or self._stdin is None:
                return False
            try:
                view = memoryview(frame)
                while view:
                    written = self._stdin.write(view)
                    view = view[written:]
            except (OSError, ValueError):
                self.closed = True
                return False
            self.handed += count
            return True

    def close_input(self) -> None:
        """End of input: the worker sends what it holds (within its budget) and exits."""
        with self._lock:
            self.closed = True
            if self._stdin is not None:
                with contextlib.suppress(OSError):
                    self._stdin.close()

    def _read_reports(self) -> None:
        stream = self.process.stdout
        try:
            while stream is not None and (report := protocol.read_report(stream)) is not None:
                kind, count = report
                self.settled += count
                self._on_report(kind, count)
        finally:
            self.ended.set()

    def lost(self) -> int:
        """Once the worker is gone: the spans it was handed and never reported on."""
        with self._lock:  # no write under way: ``handed`` is final
            self.closed = True
            return max(0, self.handed - self.settled)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _child_environment() -> dict[str, str]:
    """The service's environment, with its own source tree first on the child's path.

    The worker is found the way this module was: a service started from a checkout (or
    with ``PYTHONPATH`` set) hands the same path down.
    """
    environment = dict(os.environ)
    source = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [source, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return environment
