"""Seeded game days: a plan of faults switched on and off over time.

The plan is a pure function of the seed and the duration, so a person who diagnosed a
game day can replay its seed and compare; the same seed always gives the same plan, and a
different seed a different one. One fault is on at a time, after a quiet warm-up and with
quiet gaps between, so each symptom has one cause to find.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from minishop.flags.catalog import CATALOG, FlagSpec, flag_spec

WARM_UP_SHARE = 0.1  # of the duration, before the first fault: dashboards show normal first
SHORTEST_FAULT_SHARE = 0.12
LONGEST_FAULT_SHARE = 0.3
SHORTEST_GAP_SHARE = 0.04
LONGEST_GAP_SHARE = 0.12
END_SHARE = 0.95  # the last fault is off before the end, so the lab ends healthy
SEEDED_PRODUCTS = 8  # the catalog migration seeds products 1..8

_SERVICES = ("users", "products", "orders", "payments")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|m|s|ms)?\s*$")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}


def parse_duration(text: str) -> float:
    """``90s``, ``10m``, ``1.5h`` or plain seconds; ValueError for anything else."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"a duration is a number with h, m, s or ms, such as 15m, not {text!r}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a game day lasts longer than zero")
    return seconds


@dataclass(frozen=True)
class PlannedFault:
    """One fault of the plan: ``flag`` on with ``args`` from ``start`` to ``end`` (seconds)."""

    start: float
    end: float
    flag: str
    args: tuple[str, ...]

    @property
    def spec(self) -> FlagSpec:
        return flag_spec(self.flag)

    def describe(self) -> str:
        return f"{self.flag} {' '.join(self.args)}"


def _value_choices(rng: random.Random) -> dict[str, Callable[[], tuple[str, ...]]]:
    """How a game day picks a value for each flag: each one raises its alert at the load of
    ``minishop up --load 5`` (measured: 300 ms of latency or 20-80 ms of CPU burn stay under
    every alert there, 600 ms and 500 ms do not), so every fault of the plan pages someone."""
    return {
        "payment_failure": lambda: (str(rng.choice((30, 50, 80))),),
        "payment_unreachable": lambda: ("on",),
        "service_latency": lambda: (
            rng.choice(_SERVICES),
            str(rng.choice((600, 800, 1200))),
            str(rng.choice((0, 100, 200))),
        ),
        "product_db_error": lambda: (str(rng.randint(1, SEEDED_PRODUCTS)),),
        "orders_memory_leak": lambda: (str(rng.choice((256, 512, 1024))),),
        "cpu_burn": lambda: (rng.choice(_SERVICES), str(rng.choice((500, 700, 900)))),
        "readiness_failure": lambda: (rng.choice(_SERVICES),),
        "traffic_flood": lambda: ("/api/v1/products", str(rng.choice((40, 80)))),
    }


def plan_game_day(
    seed: int, duration: float, flags: Sequence[str] | None = None
) -> list[PlannedFault]:
    """The faults of game day ``seed`` over ``duration`` seconds, in order, one at a time.

    ``flags`` limits the choice (default: every flag of the catalog). Each value is one the
    flag accepts: the plan is checked against the catalog's parsers as it is made.
    """
    names = list(flags) if flags else [spec.name for spec in CATALOG]
    for name in names:
        flag_spec(name)  # unknown names fail here, before anything runs
    rng = random.Random(f"minishop-game-day-{seed}")
    choices = _value_choices(rng)
    plan: list[PlannedFault] = []
    cursor = duration * WARM_UP_SHARE
    last_flag: str | None = None
    while True:
        length = duration * rng.uniform(SHORTEST_FAULT_SHARE, LONGEST_FAULT_SHARE)
        if cursor + length > duration * END_SHARE:
            break
        candidates = [name for name in names if name != last_flag] or names
        flag = rng.choice(candidates)
        args = choices[flag]()
        flag_spec(flag).parse(args)  # a plan never holds a value `chaos set` would refuse
        plan.append(PlannedFault(round(cursor, 3), round(cursor + length, 3), flag, args))
        last_flag = flag
        cursor += length + duration * rng.uniform(SHORTEST_GAP_SHARE, LONGEST_GAP_SHARE)
    return plan
