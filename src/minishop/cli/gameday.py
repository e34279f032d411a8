"""``minishop chaos schedule``: run a seeded game day and write what happened when.

The plan (``minishop.flags.gameday``) stays hidden while it runs, unless ``--reveal``:
the person on call diagnoses from the telemetry alone, then reads the plan and the report
(``<data dir>/gamedays/``: Markdown to read, JSON to compare) to check the diagnosis.
Ctrl-C ends the game day early: the fault in force is switched off and the report says so.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import typer

from minishop.flags.catalog import flag_spec
from minishop.flags.document import locked, read_document, switched_off, switched_on, write_document
from minishop.flags.gameday import PlannedFault

INCIDENTS_DIR = "docs/incidents"


@dataclass
class Happened:
    """One switch the game day really made, with its wall-clock time."""

    at: datetime
    offset: float
    flag: str
    action: str  # "on" or "off"
    args: tuple[str, ...] = ()


@dataclass
class GameDayRun:
    """Switches the plan's faults in the flag file at their times; records what it did."""

    plan: list[PlannedFault]
    flags_path: Path
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    tick: Callable[[float], None] = lambda _elapsed: None
    happened: list[Happened] = field(default_factory=list)
    interrupted: bool = False
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def events(self) -> list[tuple[float, str, PlannedFault]]:
        timeline = [(fault.start, "on", fault) for fault in self.plan]
        timeline += [(fault.end, "off", fault) for fault in self.plan]
        return sorted(timeline, key=lambda event: (event[0], event[1] == "on"))

    def run(self, duration: float, tick_every: float) -> None:
        self.started_at = self.now()
        begin = self.clock()
        active: set[str] = set()
        try:
            for offset, action, fault in [*self.events(), (duration, "end", None)]:
                self._wait_until(begin, offset, tick_every)
                if fault is None:
                    break
                self._switch(fault, action, self.clock() - begin)
                (active.add if action == "on" else active.discard)(fault.flag)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            for flag in sorted(active):  # never leave a fault behind
                self._switch_off_only(flag, self.clock() - begin)
            self.ended_at = self.now()

    def _wait_until(self, begin: float, offset: float, tick_every: float) -> None:
        next_tick = (int((self.clock() - begin) / tick_every) + 1) * tick_every
        while (remaining := offset - (self.clock() - begin)) > 0:
            until_tick = next_tick - (self.clock() - begin)
            if until_tick <= 0:
                self.tick(self.clock() - begin)
                next_tick += tick_every
                continue
            self.sleep(min(remaining, until_tick))

    def _switch(self, fault: PlannedFault, action: str, offset: float) -> None:
        spec = flag_spec(fault.flag)
        with locked(self.flags_path):
            document = read_document(self.flags_path)
            if action == "on":
                document = switched_on(document, spec, spec.parse(fault.args))
            else:
                document = switched_off(document, spec)
            write_document(self.flags_path, document)
        self.happened.append(Happened(self.now(), offset, fault.flag, action, fault.args))

    def _switch_off_only(self, flag: str, offset: float) -> None:
        with locked(self.flags_path):
            write_document(
                self.flags_path, switched_off(read_document(self.flags_path), flag_spec(flag))
            )
        self.happened.append(Happened(self.now(), offset, flag, "off"))


def _clock_time(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def plan_lines(plan: list[PlannedFault]) -> list[str]:
    if not plan:
        return ["  (no fault fits in so short a game day)"]
    return [
        f"  {_clock_time(fault.start)} - {_clock_time(fault.end)}  "
        f"minishop chaos set {fault.describe()}   (see {INCIDENTS_DIR}/{fault.flag}.md)"
        for fault in plan
    ]


def write_report(run: GameDayRun, seed: int, duration: float, folder: Path) -> tuple[Path, Path]:
    """The game day as Markdown (to read) and JSON (to compare); returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    assert run.started_at is not None
    assert run.ended_at is not None
    stamp = run.started_at.strftime("%Y%m%dT%H%M%SZ")
    base = folder / f"gameday-seed{seed}-{stamp}"
    record = {
        "seed": seed,
        "duration_seconds": duration,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat(),
        "interrupted": run.interrupted,
        "plan": [
            {"flag": f.flag, "args": list(f.args), "start_seconds": f.start, "end_seconds": f.end}
            for f in run.plan
        ],
        "happened": [
            {
                "at": event.at.isoformat(),
                "offset_seconds": round(event.offset, 3),
                "flag": event.flag,
                "action": event.action,
                "args": list(event.args),
            }
            for event in run.happened
        ],
    }
    json_path = base.with_suffix(".json")
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        f"# Game day, seed {seed}",
        "",
        f"From {run.started_at:%Y-%m-%d %H:%M:%S} to {run.ended_at:%H:%M:%S} UTC"
        + (" (ended early with Ctrl-C)." if run.interrupted else "."),
        "",
        "## What happened when (UTC)",
        "",
        "| time | after | fault | switched |",
        "|------|-------|-------|----------|",
    ]
    lines += [
        f"| {event.at:%H:%M:%S} | {_clock_time(event.offset)} | "
        f"`{event.flag}{' ' + ' '.join(event.args) if event.args else ''}` | {event.action} |"
        for event in run.happened
    ]
    if not run.happened:
        lines.append("| | | nothing was switched | |")
    lines += ["", "## How to check a diagnosis", ""]
    lines += [
        f"- `{fault.flag}`: the incident page {INCIDENTS_DIR}/{fault.flag}.md says which alert "
        "and panel show it first, and where its cause is in the telemetry."
        for fault in run.plan
    ]
    markdown_path = base.with_suffix(".md")
    markdown_path.write_text("\n".join(lines) + "\n")
    return markdown_path, json_path


def run_game_day(
    plan: list[PlannedFault],
    *,
    seed: int,
    duration: float,
    flags_path: Path,
    report_dir: Path,
    reveal: bool,
) -> None:
    """Run ``plan`` in the foreground, then print it and write the report."""
    typer.echo(
        f"Game day {seed}: {_clock_time(duration)} long, {len(plan)} fault(s) hidden in it. "
        f"Flag file {flags_path}. Ctrl-C ends it early (faults are switched off)."
    )
    if reveal:
        typer.echo("The plan (--reveal):")
        typer.echo("\n".join(plan_lines(plan)))
    tick_every = min(60.0, max(1.0, duration / 10))
    run = GameDayRun(
        plan,
        flags_path,
        tick=lambda elapsed: typer.echo(
            f"  game day: {_clock_time(elapsed)} of {_clock_time(duration)}"
        ),
    )
    previous = signal.getsignal(signal.SIGTERM)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        run.run(duration, tick_every)
    finally:
        signal.signal(signal.SIGTERM, previous)
    markdown, json_path = write_report(run, seed, duration, report_dir)
    typer.echo("Game day over" + (" (ended early)." if run.interrupted else ".") + " The plan was:")
    typer.echo("\n".join(plan_lines(plan)))
    typer.echo(f"Report: {markdown} (and {json_path.name})")
