"""Runs the services as child processes: start, wait until ready, relay logs, stop cleanly."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

import httpx

COLOURS = ("36", "35", "33", "32", "34", "31")
SUPERVISOR_PID_VARIABLE = "MINISHOP_SUPERVISOR_PID"


class StartupError(Exception):
    """A one-line reason the shop could not start."""


@dataclass(frozen=True)
class ProcessSpec:
    """One child process: a MiniShop service by default, or any program given by ``command``."""

    name: str
    host: str
    port: int
    env: Mapping[str, str]
    command: Sequence[str] | None = None
    ready_path: str = "/health/ready"
    port_variable: str | None = None  # the setting that moves it to another port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        if self.command is not None:
            return list(self.command)
        return [sys.executable, "-m", "minishop", "serve", self.name]


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: SIGTERM this child when the supervisor dies, even by SIGKILL.

    Programs that are not ours (Prometheus, Alertmanager) have no orphan watchdog;
    the kernel's parent-death signal gives them the same guarantee.
    """
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    pump: threading.Thread | None = None


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def stop_when_orphaned(supervisor_pid: int, interval: float = 0.5) -> None:
    """In a child: stop gracefully (SIGTERM to ourselves) once the supervisor is gone.

    Children run in their own session so that Ctrl-C reaches only the supervisor,
    which then stops them in order; the price is that a supervisor killed outright
    would leave them running, holding their ports. This watchdog closes that gap.
    """

    def watch() -> None:
        while os.getppid() == supervisor_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watchdog", daemon=True).start()


class Supervisor:
    def __init__(
        self, specs: Sequence[ProcessSpec], output: TextIO = sys.stdout, colour: bool = False
    ) -> None:
        self._specs = list(specs)
        self._output = output
        self._colour = colour
        self._children: list[_Child] = []
        self._write_lock = threading.Lock()
        width = max(len(spec.name) for spec in specs)
        self._prefix = {
            spec.name: self._paint(f"{spec.name:<{width}} | ", COLOURS[i % len(COLOURS)])
            for i, spec in enumerate(specs)
        }

    def _paint(self, text: str, colour: str) -> str:
        return f"\x1b[{colour}m{text}\x1b[0m" if self._colour else text

    def check_ports(self) -> None:
        for spec in self._specs:
            if not port_is_free(spec.host, spec.port):
                variable = spec.port_variable or f"{spec.name.upper()}_PORT"
                raise StartupError(
                    f"port {spec.port} ({spec.name}) is already in use: stop what holds it "
                    f"or choose another with {variable}"
                )

    def start(self) -> None:
        for spec in self._specs:
            foreign = spec.command is not None and sys.platform == "linux"
            process = subprocess.Popen(
                spec.argv(),
                env={
                    **os.environ,
                    **spec.env,
                    "PYTHONUNBUFFERED": "1",
                    SUPERVISOR_PID_VARIABLE: str(os.getpid()),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # our signal handling decides the stop order
                preexec_fn=_die_with_parent if foreign else None,
            )
            child = _Child(spec, process)
            child.pump = threading.Thread(
                target=self._relay, args=(child,), name=f"logs-{spec.name}", daemon=True
            )
            child.pump.start()
            self._children.append(child)

    def _relay(self, child: _Child) -> None:
        assert child.process.stdout is not None
        prefix = self._prefix[child.spec.name]
        for raw in child.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            child.recent.append(line)
            with self._write_lock:
                self._output.write(prefix + line + "\n")
                self._output.flush()

    def wait_ready(self, timeout: float) -> float:
        """Block until every service answers ``/health/ready``; returns the seconds it took."""
        started = time.monotonic()
        pending = {child.spec.name: child for child in self._children}
        with httpx.Client(timeout=1.0) as client:
            while pending:
                for name, child in list(pending.items()):
                    code = child.process.poll()
                    if code is not None:
                        raise StartupError(self._exit_reason(child, code))
                    with contextlib.suppress(httpx.HTTPError):
                        ready = client.get(f"{child.spec.url}{child.spec.ready_path}")
                        if ready.status_code == 200:
                            del pending[name]
                if time.monotonic() - started > timeout:
                    names = ", ".join(sorted(pending))
                    raise StartupError(f"not ready after {timeout:.0f} s: {names}")
                if pending:
                    time.sleep(0.05)
        return time.monotonic() - started

    @staticmethod
    def _exit_reason(child: _Child, code: int) -> str:
        time.sleep(0.2)  # let the relay thread catch the last lines
        last = next((line for line in reversed(child.recent) if line.strip()), "no output")
        return f"{child.spec.name} exited with code {code} during start: {last[:300]}"

    def first_exited(self) -> tuple[str, int] | None:
        for child in self._children:
            code = child.process.poll()
            if code is not None:
                return child.spec.name, code
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the gateway first (no new traffic), then the rest; SIGKILL what lingers."""
        for child in reversed(self._children):
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
                if child.spec.name == "gateway":
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        child.process.wait(timeout=timeout / 2)
        deadline = time.monotonic() + timeout
        for child in self._children:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        for child in self._children:
            if child.pump is not None:
                child.pump.join(timeout=2)
