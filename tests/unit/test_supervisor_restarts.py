"""The supervisor restarts crashed children and gives up on a crash loop (tiny real programs)."""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from pathlib import Path

from minishop.cli.restarts import RestartPolicy
from minishop.cli.supervisor import ProcessSpec, Supervisor
from minishop.cli.supervisor_state import read_state
from tests.support.helpers import wait_until

FAST = RestartPolicy(first_delay=0.0, base=0.05, cap=0.2, crash_limit=3, window=60.0)
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
# Crashes on its first run only: the restart sees MINISHOP_RESTART_COUNT=1 and stays up.
CRASH_ONCE = [
    sys.executable,
    "-c",
    "import os, sys, time\n"
    "n = os.environ['MINISHOP_RESTART_COUNT']\n"
    "print('run', n, flush=True)\n"
    "sys.exit(3) if n == '0' else time.sleep(60)",
]
ALWAYS_CRASH = [sys.executable, "-c", "import sys; print('bad config: no such table'); sys.exit(1)"]


def _spec(name: str, command: list[str]) -> ProcessSpec:
    return ProcessSpec(name, "127.0.0.1", 1, {}, command=command)


def _supervise_until(supervisor: Supervisor, done, timeout: float = 15.0) -> None:
    """Run the supervisor's rounds until ``done()``, as ``minishop up`` runs them."""

    def round_done() -> bool:
        if done():
            return True
        supervisor.supervise()
        return False

    wait_until(round_done, timeout=timeout, interval=0.02, message="the supervisor getting there")


def test_a_crashed_child_is_restarted_with_its_count_and_the_others_untouched(
    tmp_path: Path,
) -> None:
    output = io.StringIO()
    state = tmp_path / "state.json"
    supervisor = Supervisor(
        [_spec("steady", SLEEPER), _spec("flaky", CRASH_ONCE)],
        output,
        policy=FAST,
        state_path=state,
    )
    supervisor.start()
    try:
        steady_pid = supervisor.statuses()["steady"].pid
        _supervise_until(supervisor, lambda: "run 1" in output.getvalue())
        statuses = supervisor.statuses()
        assert statuses["flaky"].restarts == 1
        assert statuses["flaky"].state == "running"
        assert statuses["steady"].pid == steady_pid
        assert statuses["steady"].restarts == 0
        log = output.getvalue()
        assert "flaky stopped unexpectedly (exit code 3); restarting it now (restart 1" in log
        assert read_state(state)["flaky"].restarts == 1  # what `minishop status` reads
    finally:
        supervisor.stop(timeout=5)
    assert not state.exists()


def test_a_child_killed_by_a_signal_is_named_by_its_signal(tmp_path: Path) -> None:
    output = io.StringIO()
    supervisor = Supervisor([_spec("victim", SLEEPER)], output, policy=FAST)
    supervisor.start()
    try:
        pid = supervisor.statuses()["victim"].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _supervise_until(supervisor, lambda: supervisor.statuses()["victim"].restarts == 1)
        assert "victim stopped unexpectedly (killed by SIGKILL)" in output.getvalue()
        assert supervisor.statuses()["victim"].pid not in (None, pid)
    finally:
        supervisor.stop(timeout=5)


def test_a_crash_loop_gives_up_on_that_child_only(tmp_path: Path) -> None:
    output = io.StringIO()
    state = tmp_path / "state.json"
    supervisor = Supervisor(
        [_spec("steady", SLEEPER), _spec("broken", ALWAYS_CRASH)],
        output,
        policy=FAST,
        state_path=state,
    )
    supervisor.start()
    try:
        _supervise_until(supervisor, lambda: supervisor.statuses()["broken"].state == "gave up")
        for _ in range(10):  # it stays given up: no further restart
            supervisor.supervise()
            time.sleep(0.02)
        statuses = supervisor.statuses()
        assert statuses["broken"].restarts == FAST.crash_limit - 1
        assert statuses["steady"].state == "running"
        assert statuses["steady"].restarts == 0
        log = output.getvalue()
        (line,) = [line for line in log.splitlines() if "Not restarting it again" in line]
        assert "broken crashed 3 times within 60 s, last exit code 1" in line
        assert "bad config: no such table" in line  # its last words say why
        assert "fix the cause, then restart MiniShop" in line
        assert read_state(state)["broken"].state == "gave up"
    finally:
        supervisor.stop(timeout=5)


def test_a_state_file_of_a_dead_supervisor_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(
        '{"supervisor_pid": 999999999, "children": '
        '{"payments": {"state": "gave up", "pid": null, "restarts": 4}}}'
    )
    assert read_state(state) == {}
    state.write_text("not json")
    assert read_state(state) == {}
