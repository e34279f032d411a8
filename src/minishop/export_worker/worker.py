"""The exporter process's loop: read spans from the service, send them, say what became of them.

Two threads. The main one reads frames from stdin as fast as they come, so the service's
writes never wait on the collector; it keeps at most ``max_queue`` spans and reports the
rest as dropped. The sender thread encodes up to ``max_batch`` spans per request and posts
them. The worker lives as long as its stdin: when the service closes it (a stop) or dies,
the sender gets ``budget`` seconds to send what is left, then the process exits, so no
exporter outlives its service for long. SIGINT and SIGTERM are ignored for that reason: a
Ctrl-C on the terminal reaches the whole process group, and the service's stop decides.
"""

from __future__ import annotations

import _signal  # the C module: ``signal`` adds enum (~0.8 MB with socket's use of it gone)
import collections
import marshal
import os
import sys
import threading
import time

from minishop.export_worker import protocol, wire
from minishop.export_worker.sender import Sender, SenderConfig

TYPE_CHECKING = False  # typing (and the re it imports) is not worth a worker's memory
if TYPE_CHECKING:
    from typing import Any, BinaryIO

MAX_FRAME = 64 * 1024 * 1024


class Worker:
    def __init__(
        self, sender: Sender, reports: BinaryIO, *, max_queue: int, max_batch: int
    ) -> None:
        self._sender = sender
        self._reports = reports
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._queue: collections.deque[Any] = collections.deque()
        self._ready = threading.Condition()
        self._closed = False
        self._report_lock = threading.Lock()
        self._thread = threading.Thread(target=self._send_loop, name="otlp-sender", daemon=True)

    def report(self, kind: int, count: int) -> None:
        if count <= 0:
            return
        with self._report_lock:
            try:
                self._reports.write(protocol.REPORT.pack(kind, count))
                self._reports.flush()
            except OSError:
                pass  # the service is gone: nobody to tell

    def accept(self, spans: list[Any]) -> None:
        with self._ready:
            room = self._max_queue - len(self._queue)
            if room < len(spans):
                self.report(protocol.QUEUE_FULL, len(spans) - max(room, 0))
                spans = spans[: max(room, 0)]
            self._queue.extend(spans)
            self._ready.notify()

    def _take(self) -> list[Any] | None:
        with self._ready:
            while not self._queue and not self._closed:
                self._ready.wait()
            if not self._queue:
                return None
            count = min(self._max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _send_loop(self) -> None:
        while (batch := self._take()) is not None:
            try:
                sent = self._sender.post(wire.encode_spans(batch))
            except Exception:  # a span the encoder cannot write must not end the worker
                sent = False
            self.report(protocol.SENT if sent else protocol.FAILED, len(batch))

    def run(self, frames: BinaryIO, budget: float) -> None:
        self._thread.start()
        while (frame := protocol.read_frame(frames, MAX_FRAME)) is not None:
            kind, payload = frame
            if kind == protocol.SPANS:
                self.accept(marshal.loads(payload))
        deadline = time.monotonic() + budget
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._sender.stopping.set()  # cuts a retry's backoff short; a POST under way is left


OPTIONS = {"--max-queue": 2048, "--max-batch": 512, "--budget-ms": 750}


def parse_options(argv: list[str]) -> dict[str, int]:
    """``--name=value`` integers, each of ``OPTIONS``; argparse would import shutil, zlib,
    bz2 and lzma (``HelpFormatter`` asks shutil for the terminal's width): ~1.7 MB."""
    options = dict(OPTIONS)
    for argument in argv:
        name, sep, value = argument.partition("=")
        if name not in OPTIONS or not sep:
            raise SystemExit(f"python -m minishop.export_worker: unknown argument {argument!r}")
        try:
            options[name] = int(value)
        except ValueError:
            raise SystemExit(f"python -m minishop.export_worker: {name} needs an integer") from None
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
    sender = Sender(SenderConfig.from_environ(os.environ))
    worker = Worker(
        sender,
        sys.stdout.buffer,
        max_queue=max(1, options["--max-queue"]),
        max_batch=max(1, options["--max-batch"]),
    )
    worker.run(sys.stdin.buffer, options["--budget-ms"] / 1000)
    sys.stdout.flush()
    os._exit(0)  # a POST still hanging on a black-holed collector must not hold the exit
