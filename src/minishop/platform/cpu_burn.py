"""The CPU-heavy function of the ``cpu_burn`` fault flag (CONTRACT §9).

It spins real CPU in Python, on the thread that calls it: on a service's event loop
that is the point, every other request waits while it runs, as with a slow serializer
or a regular expression gone wrong. Its name is what a person looks for in a CPU profile
(``GET /debug/pprof/profile``): keep it descriptive, module-level and doing the work
itself, so the profile's samples land on this frame and not on a helper's.
"""

from __future__ import annotations

import time

# Arithmetic rounds between two looks at the clock: about 30 µs of work (0.2 µs a round),
# so the burn overshoots its target by at most that, and the clock reads (0.6 µs each)
# cost about 2 % of it.
_ROUNDS_PER_CHECK = 128
_MODULUS = (1 << 61) - 1  # a Mersenne prime: the products stay small integers


def burn_cpu_for_fault(ms: float) -> float:
    """Spin ``ms`` milliseconds of this thread's CPU time; return the seconds it spent.

    Measured with ``time.thread_time()``, so time the thread spends descheduled (another
    process on the same core) does not count: the request costs ``ms`` of CPU whatever
    the machine's load, as the fault flag promises.
    """
    started = time.thread_time()
    if ms <= 0:
        return 0.0
    deadline = started + ms / 1000.0
    value = 0x9E3779B97F4A7C15
    while True:
        for _ in range(_ROUNDS_PER_CHECK):
            value = (value * value + 0x632BE5AB) % _MODULUS
        now = time.thread_time()
        if now >= deadline:
            return now - started
