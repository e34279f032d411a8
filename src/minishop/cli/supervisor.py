"""Runs the services as child processes: start, wait until ready, relay logs, restart what
crashes, stop cleanly."""

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TextIO

try:
    import fcntl
except ImportError:  # not on Windows: pipes keep their default size
    fcntl = None  # type: ignore[assignment]

import httpx

from minishop.cli.restarts import CrashHistory, RestartPolicy
from minishop.cli.supervisor_state import ChildStatus, remove_state, write_state
from minishop.cli.zero_code import under_agent
from minishop.observability.metrics import RESTART_COUNT_VARIABLE  # how often it restarted

COLOURS = ("36", "35", "33", "32", "34", "31")
SUPERVISOR_PID_VARIABLE = "MINISHOP_SUPERVISOR_PID"
STOP_TIMEOUT_SECONDS = 8.0
"""SIGKILL safety net: a service stops well within it (graceful window, bounded flush)."""


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
    withheld: frozenset[str] = frozenset()
    """Variables of our environment this child must not inherit (credentials it does not
    need)."""
    drain_seconds: float = 0.0
    """At stop, how long to wait for this child to exit before signalling the children
    started before it: the entry point drains its requests while the services it calls
    still answer them."""
    extra_ports: tuple[tuple[int, str], ...] = ()
    """Other ports it listens on, each with the setting that moves it (the console's OTLP
    receiver): checked free before anything starts, like ``port``."""
    agent: str | None = None
    """``opentelemetry-instrument`` to start this service under (zero-code mode), or None."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        if self.command is not None:
            return list(self.command)
        own = [sys.executable, "-m", "minishop", "serve", self.name]
        return own if self.agent is None else under_agent(self.agent, own)


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: SIGTERM this child when the supervisor dies, even by SIGKILL.

    Programs that are not ours (Prometheus, Alertmanager) have no orphan watchdog;
    the kernel's parent-death signal gives them the same guarantee.
    """
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


PIPE_BYTES = 1 << 20
"""A child's output pipe: 1 MiB (Linux's default is 64 KiB) absorbs a burst of log lines."""


def _widen_pipe(descriptor: int) -> None:
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(descriptor, set_size, PIPE_BYTES)


RELAY_CHUNK_BYTES = 1 << 16
RELAY_PAUSE_SECONDS = 0.05
"""How long log lines may wait in a child's pipe once the relay has caught up: a person
reading them does not notice 50 ms, and a 1 MiB pipe holds far more than 50 ms of lines."""


def _read_chunk(descriptor: int) -> bytes:
    """What the pipe holds now (at most 64 KiB), waiting for some; b"" once the child is gone."""
    try:
        return os.read(descriptor, RELAY_CHUNK_BYTES)
    except OSError:
        return b""


class ChildState(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"  # crashed; waiting out its backoff
    GAVE_UP = "gave up"  # crash loop: left down, the others keep serving


@dataclass
class _Child:
    spec: ProcessSpec
    history: CrashHistory
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    state: ChildState = ChildState.RUNNING
    restart_at: float = 0.0
    detail: str = ""
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    pump: threading.Thread | None = None

    def last_line(self) -> str:
        return next((line for line in reversed(self.recent) if line.strip()), "no output")


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL`` (Popen reports a signal as a negative code)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


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
    """Starts the children, restarts the ones that crash, stops them all in order.

    A crashed child is restarted with backoff while the others keep serving (one crash
    is not an outage); a child in a crash loop is left down with a message saying what
    to do, and the others still keep serving: most of the shop stays usable (browsing
    needs neither orders nor payments), and the person reading the logs decides.
    """

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        output: TextIO = sys.stdout,
        colour: bool = False,
        *,
        policy: RestartPolicy | None = None,
        state_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._specs = list(specs)
        self._output = output
        self._colour = colour
        self._policy = policy or RestartPolicy()
        self._state_path = state_path
        self._clock = clock
        self._children: list[_Child] = []
        self._write_lock = threading.Lock()
        width = max(len(spec.name) for spec in specs)
        self._prefix = {
            spec.name: self._paint(f"{spec.name:<{width}} | ", COLOURS[i % len(COLOURS)])
            for i, spec in enumerate(specs)
        }
        self._own_prefix = self._paint(f"{'minishop':<{width}} | ", "1")

    def _paint(self, text: str, colour: str) -> str:
        return f"\x1b[{colour}m{text}\x1b[0m" if self._colour else text

    def check_ports(self) -> None:
        for spec in self._specs:
            default_variable = spec.port_variable or f"{spec.name.upper()}_PORT"
            for port, variable in ((spec.port, default_variable), *spec.extra_ports):
                if not port_is_free(spec.host, port):
                    raise StartupError(
                        f"port {port} ({spec.name}) is already in use: stop what holds it "
                        f"or choose another with {variable}"
                    )

    def start(self) -> None:
        for spec in self._specs:
            child = _Child(spec, CrashHistory(self._policy))
            self._spawn(child)
            self._children.append(child)
        self._save_state()

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        foreign = spec.command is not None and sys.platform == "linux"
        child.process = subprocess.Popen(
            spec.argv(),
            env={
                **{name: value for name, value in os.environ.items() if name not in spec.withheld},
                **spec.env,
                "PYTHONUNBUFFERED": "1",
                SUPERVISOR_PID_VARIABLE: str(os.getpid()),
                RESTART_COUNT_VARIABLE: str(child.restarts),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # our signal handling decides the stop order
            preexec_fn=_die_with_parent if foreign else None,
        )
        child.started_at = self._clock()
        child.state = ChildState.RUNNING
        child.detail = ""
        child.pump = threading.Thread(
            target=self._relay,
            args=(child, child.process),
            name=f"logs-{spec.name}",
            daemon=True,
        )
        child.pump.start()

    def _relay(self, child: _Child, process: subprocess.Popen[bytes]) -> None:
        """Copy a child's lines to our output, prefixed, a pipe-full at a time.

        Why by chunks: a service under load writes thousands of log lines a second, and a
        relay that reads, writes and flushes them one by one fell behind; the pipe then
        filled and every ``write`` of the service's log lines blocked its event loop (18 %
        of the orders loop's time at 16 connections, measured with its own profiler). One
        read, one write and one flush per chunk keep up, and a larger pipe absorbs bursts.
        """
        assert process.stdout is not None
        prefix = self._prefix[child.spec.name]
        descriptor = process.stdout.fileno()
        _widen_pipe(descriptor)
        pending = b""
        while chunk := _read_chunk(descriptor):
            if len(chunk) < RELAY_CHUNK_BYTES:
                # Caught up: let lines gather for a moment instead of waking for each one
                # (a wake-up per line cost the shop's two cores ~0.5 ms of CPU per order).
                time.sleep(RELAY_PAUSE_SECONDS)
            *complete, pending = (pending + chunk).split(b"\n")
            if not complete:
                continue
            lines = [raw.decode("utf-8", "replace") for raw in complete]
            child.recent.extend(lines)
            self._write("\n".join(prefix + line for line in lines))
        if pending:
            line = pending.decode("utf-8", "replace")
            child.recent.append(line)
            self._write(prefix + line)

    def _write(self, text: str) -> None:
        with self._write_lock:
            self._output.write(text + "\n")
            self._output.flush()

    def say(self, message: str) -> None:
        """A line of the supervisor's own among the children's log lines."""
        self._write(self._own_prefix + message)

    def wait_ready(self, timeout: float) -> float:
        """Block until every service answers ``/health/ready``; returns the seconds it took."""
        started = time.monotonic()
        pending = {child.spec.name: child for child in self._children}
        with httpx.Client(timeout=1.0) as client:
            while pending:
                for name, child in list(pending.items()):
                    assert child.process is not None
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
        if child.pump is not None:
            child.pump.join(timeout=0.5)  # let the relay thread catch the last lines
        return f"{child.spec.name} exited with code {code} during start: {child.last_line()[:300]}"

    def supervise(self) -> None:
        """One round of watching, called often once the shop is up: restart what crashed."""
        now = self._clock()
        changed = False
        for child in self._children:
            if child.state is ChildState.RUNNING:
                assert child.process is not None
                code = child.process.poll()
                if code is not None:
                    self._on_exit(child, code, now)
                    changed = True
            if child.state is ChildState.RESTARTING and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
                changed = True
        if changed:
            self._save_state()

    def _on_exit(self, child: _Child, code: int, now: float) -> None:
        name, how = child.spec.name, describe_exit(code)
        decision = child.history.on_exit(now, child.started_at)
        if decision.give_up:
            if child.pump is not None:
                child.pump.join(timeout=0.5)  # its last words explain the crash
            child.state = ChildState.GAVE_UP
            child.detail = (
                f"crashed {decision.recent_crashes} times within "
                f"{self._policy.window:.0f} s, last {how}: {child.last_line()[:200]}"
            )
            self.say(
                f"{name} {child.detail}. Not restarting it again; the other services keep "
                f"running. Read {name}'s lines above, fix the cause, then restart MiniShop "
                "(Ctrl-C, then minishop up)."
            )
            return
        child.state = ChildState.RESTARTING
        child.restart_at = now + decision.delay
        child.detail = how
        when = f"in {decision.delay:.1f} s" if decision.delay > 0 else "now"
        self.say(
            f"{name} stopped unexpectedly ({how}); restarting it {when} "
            f"(restart {child.restarts + 1}, attempt {decision.streak} in a row)"
        )

    def statuses(self) -> dict[str, ChildStatus]:
        return {
            child.spec.name: ChildStatus(
                state=child.state.value,
                pid=child.process.pid
                if child.process and child.state is ChildState.RUNNING
                else None,
                restarts=child.restarts,
                detail=child.detail,
            )
            for child in self._children
        }

    def _save_state(self) -> None:
        if self._state_path is None:
            return
        try:
            write_state(self._state_path, self.statuses())
        except OSError as exc:  # status loses a detail; the shop keeps running
            self.say(f"cannot write {self._state_path}: {exc.strerror}")

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM in reverse start order, the gateway first (no new traffic), letting a child
        with ``drain_seconds`` finish before the ones behind it; SIGKILL what lingers."""
        running = [
            child
            for child in self._children
            if child.process is not None and child.process.poll() is None
        ]
        for child in reversed(running):
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
            if child.spec.drain_seconds > 0:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=min(child.spec.drain_seconds, timeout / 2))
        deadline = time.monotonic() + timeout
        for child in running:
            assert child.process is not None
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        for child in self._children:
            if child.pump is not None:
                child.pump.join(timeout=2)
        if self._state_path is not None:
            remove_state(self._state_path)
