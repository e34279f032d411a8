"""Seeded game days: the plan, the run, the report and the command line."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minishop.cli.app import cli
from minishop.cli.gameday import GameDayRun, write_report
from minishop.flags import flag_spec
from minishop.flags.document import read_document
from minishop.flags.gameday import parse_duration, plan_game_day
from minishop.flags.source import evaluate


def test_the_same_seed_gives_the_same_plan() -> None:
    assert plan_game_day(42, 1800) == plan_game_day(42, 1800)


def test_different_seeds_give_different_plans() -> None:
    plans = {tuple(plan_game_day(seed, 1800)) for seed in range(20)}
    assert len(plans) == 20


@pytest.mark.parametrize("seed", range(25))
def test_a_plan_is_one_valid_fault_at_a_time_inside_the_game_day(seed: int) -> None:
    duration = 3600.0
    plan = plan_game_day(seed, duration)
    assert plan, "an hour holds at least one fault"
    assert plan[0].start >= duration * 0.1  # a quiet warm-up first
    for fault in plan:
        assert fault.start < fault.end <= duration * 0.95
        flag_spec(fault.flag).parse(fault.args)  # `chaos set` would take it
    for before, after in itertools.pairwise(plan):
        assert before.end < after.start
        assert before.flag != after.flag


def test_only_limits_the_faults_and_refuses_unknown_names() -> None:
    plan = plan_game_day(3, 7200, ["cpu_burn", "readiness_failure"])
    assert {fault.flag for fault in plan} <= {"cpu_burn", "readiness_failure"}
    with pytest.raises(ValueError, match="unknown flag"):
        plan_game_day(3, 7200, ["cpu_burns"])


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1.5h", 5400), ("45", 45), ("500ms", 0.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10 minutes", "-5m", "0s", "m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_a_run_switches_each_fault_at_its_time_and_leaves_none_behind(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    plan = plan_game_day(7, 600)
    clock = FakeClock()
    seen: list[tuple[float, bool]] = []
    ticks: list[float] = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    run = GameDayRun(
        plan,
        path,
        clock=lambda: clock.now,
        sleep=clock.sleep,
        now=lambda: start + timedelta(seconds=clock.now),
        tick=ticks.append,
    )
    original = run._switch

    def observe(fault, action, offset):  # the file holds the fault right after its switch
        original(fault, action, offset)
        on = evaluate(read_document(path), {"service": "orders"}).value(fault.flag) is not None
        seen.append((offset, on))

    run._switch = observe  # type: ignore[method-assign]
    run.run(600, tick_every=60)
    expected = sorted(
        [(f.start, True) for f in plan] + [(f.end, False) for f in plan], key=lambda e: e[0]
    )
    assert [(round(offset, 3), on) for offset, on in seen] == expected
    # a neutral clock every minute (one that falls on a switch may be skipped): no plan
    assert len(ticks) >= 7
    assert all(tick % 60 == 0 and tick < 600 for tick in ticks)
    assert not evaluate(read_document(path), {"service": "x"}).any()
    markdown, json_path = write_report(run, 7, 600, tmp_path / "reports")
    record = json.loads(json_path.read_text())
    assert record["seed"] == 7
    assert [e["flag"] for e in record["happened"]] == [f.flag for f in plan for _ in (0, 1)]
    text = markdown.read_text()
    for fault in plan:
        assert f"docs/incidents/{fault.flag}.md" in text


def test_an_interrupted_run_switches_its_fault_off(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    plan = plan_game_day(11, 600)
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > plan[0].start + 1:
            raise KeyboardInterrupt

    run = GameDayRun(plan, path, clock=lambda: clock.now, sleep=sleep)
    run.run(600, tick_every=60)
    assert run.interrupted
    assert [(e.flag, e.action) for e in run.happened] == [
        (plan[0].flag, "on"),
        (plan[0].flag, "off"),
    ]
    assert not evaluate(read_document(path), {"service": "x"}).any()


def test_the_command_hides_the_plan_until_the_end(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    runner = CliRunner()
    args = ["chaos", "schedule", "--seed", "5", "--duration", "3s", "--flags-file", str(path)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    head, _, tail = result.output.partition("Game day over")
    assert "chaos set" not in head
    assert "chaos set" in tail
    reports = list((tmp_path / "gamedays").glob("gameday-seed5-*.md"))
    assert len(reports) == 1
    revealed = runner.invoke(cli, [*args[:5], "1s", "--flags-file", str(path), "--reveal"])
    assert "The plan (--reveal)" in revealed.output


def test_plan_only_prints_the_same_plan_for_the_same_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["chaos", "schedule", "--seed", "9", "--duration", "45m", "--plan-only"]
    first = runner.invoke(cli, [*args, "--flags-file", str(tmp_path / "f.json")])
    second = runner.invoke(cli, [*args, "--flags-file", str(tmp_path / "f.json")])
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert "chaos set" in first.output
    assert not (tmp_path / "f.json").exists()  # nothing switched
