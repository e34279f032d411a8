"""Backoff and give-up rule of the supervisor, on a fake clock."""

from __future__ import annotations

from minishop.cli.restarts import CrashHistory, RestartPolicy


def test_the_first_restart_is_immediate_then_the_wait_doubles_up_to_the_cap() -> None:
    policy = RestartPolicy(first_delay=0.0, base=0.5, cap=3.0, crash_limit=100, window=60.0)
    history = CrashHistory(policy)
    delays = []
    now = 0.0
    for _ in range(6):
        started = now
        now += 1.0  # each run lasts one second: never stable
        delays.append(history.on_exit(now, started).delay)
    assert delays == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_five_crashes_within_a_minute_is_a_crash_loop() -> None:
    history = CrashHistory(RestartPolicy(crash_limit=5, window=60.0, stable_after=30.0))
    decisions = [history.on_exit(now=10.0 * i + 5, started_at=10.0 * i) for i in range(5)]
    assert [d.give_up for d in decisions] == [False, False, False, False, True]
    assert decisions[-1].recent_crashes == 5


def test_crashes_spread_beyond_the_window_never_give_up() -> None:
    history = CrashHistory(RestartPolicy(crash_limit=5, window=60.0, stable_after=1000.0))
    for i in range(20):
        decision = history.on_exit(now=20.0 * i + 1, started_at=20.0 * i)
        assert not decision.give_up
        assert decision.recent_crashes <= 3


def test_a_stable_run_starts_the_backoff_over() -> None:
    history = CrashHistory(RestartPolicy(base=0.5, stable_after=30.0, crash_limit=100))
    assert history.on_exit(now=1.0, started_at=0.0).delay == 0.0
    assert history.on_exit(now=2.0, started_at=1.0).delay == 0.5
    assert history.on_exit(now=3.0, started_at=2.0).delay == 1.0
    after_healthy_run = history.on_exit(now=100.0, started_at=3.0)
    assert after_healthy_run.delay == 0.0
    assert after_healthy_run.streak == 1
