"""When to restart a crashed child, and when to stop trying.

A pure policy with no clock of its own (callers pass ``now``), so the backoff and the
give-up rule are tested without sleeping. The supervisor owns one ``CrashHistory`` per
child and asks it what to do each time that child exits.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

FIRST_RESTART_DELAY_SECONDS = 0.0
"""The first crash is restarted at once: most crashes are one-offs (a kill, an OOM)."""
BACKOFF_BASE_SECONDS = 0.5
"""The second restart in a row waits this long; each further one waits twice as long."""
BACKOFF_CAP_SECONDS = 8.0
"""No restart waits longer than this."""
CRASH_LOOP_CRASHES = 5
"""This many crashes within ``CRASH_LOOP_WINDOW_SECONDS`` is a crash loop: give up."""
CRASH_LOOP_WINDOW_SECONDS = 60.0
STABLE_AFTER_SECONDS = 30.0
"""A child that ran this long before crashing was healthy: its backoff starts over."""


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = FIRST_RESTART_DELAY_SECONDS
    base: float = BACKOFF_BASE_SECONDS
    cap: float = BACKOFF_CAP_SECONDS
    crash_limit: int = CRASH_LOOP_CRASHES
    window: float = CRASH_LOOP_WINDOW_SECONDS
    stable_after: float = STABLE_AFTER_SECONDS

    def delay(self, streak: int) -> float:
        """Seconds to wait before restart number ``streak`` of an unbroken run of crashes."""
        if streak <= 1:
            return self.first_delay
        return min(self.cap, self.base * 2 ** (streak - 2))


@dataclass(frozen=True)
class Decision:
    """What to do about one exit: restart after ``delay`` seconds, or give up."""

    give_up: bool
    delay: float = 0.0
    streak: int = 0  # restarts in a row without a stable run in between
    recent_crashes: int = 0  # crashes within the policy's window, this one included


@dataclass
class CrashHistory:
    """The crashes of one child, enough to apply a ``RestartPolicy``."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    streak: int = 0
    crashes: deque[float] = field(default_factory=deque)

    def on_exit(self, now: float, started_at: float) -> Decision:
        """The child started at ``started_at`` exited at ``now``: restart it, or give up?"""
        if now - started_at >= self.policy.stable_after:
            self.streak = 0
        self.crashes.append(now)
        while self.crashes and self.crashes[0] <= now - self.policy.window:
            self.crashes.popleft()
        if len(self.crashes) >= self.policy.crash_limit:
            return Decision(give_up=True, streak=self.streak, recent_crashes=len(self.crashes))
        self.streak += 1
        return Decision(
            give_up=False,
            delay=self.policy.delay(self.streak),
            streak=self.streak,
            recent_crashes=len(self.crashes),
        )
