"""``minishop load``'s option checks and ``up --load N``'s process, without running Locust."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minishop.cli.app import _plan, cli
from minishop.cli.load import (
    API_KEY_VARIABLE,
    LOADGEN,
    gateway_url,
    load_processes,
    loadgen_command,
    parse_duration,
)
from minishop.cli.tokens import TOKEN_VARIABLES


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("2m", 120), ("1h", 3600), ("1m30s", 90), ("0", 0), ("2.5s", 2.5)],
)
def test_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5x", "-3", "1m-2s", "m5"])
def test_a_duration_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="a duration such as 30s"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0"], "--users must be at least 1"),
        (["--spawn-rate", "0"], "--spawn-rate must be above 0"),
        (["--duration", "soon"], "--duration: a duration such as 30s"),
        (["--think-min", "5", "--think-max", "1"], "--think-min must be between 0 and --think-max"),
        (["--progress-interval", "-1"], "--progress-interval must be 0"),
        (["--web", "--duration", "1m"], "--web runs until Ctrl-C"),
        (["--host", "localhost:8080"], "--host must be an http(s) URL"),
    ],
)
def test_a_bad_option_is_one_line_and_starts_nothing(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr("minishop.cli.load.run_child", lambda command: started.append(command) or 0)
    result = CliRunner().invoke(cli, ["load", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert started == []


def test_good_options_become_the_generator_s_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr("minishop.cli.load.run_child", lambda command: started.append(command) or 0)
    monkeypatch.setenv("GATEWAY_PORT", "18080")
    flags = tmp_path / "flags.json"
    args = [
        "load",
        "--users",
        "3",
        "--spawn-rate",
        "3",
        "--duration",
        "1m30s",
        "--flags-file",
        str(flags),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (command,) = started
    assert command[:3] == [sys.executable, "-m", "minishop.loadgen"]
    options = dict(zip(command[3::2], command[4::2], strict=False))
    assert options["--host"] == "http://127.0.0.1:18080"
    assert (options["--users"], options["--spawn-rate"], options["--duration"]) == ("3", "3", "90")
    assert options["--flags-file"] == str(flags)
    assert "--web" not in command


def test_web_runs_until_stopped_on_the_chosen_port(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr("minishop.cli.load.run_child", lambda command: started.append(command) or 0)
    result = CliRunner().invoke(
        cli, ["load", "--web", "--web-port", "18089", "--host", "http://h:1"]
    )
    assert result.exit_code == 0, result.output
    (command,) = started
    assert command[command.index("--duration") + 1] == "0"
    assert command[command.index("--web-port") + 1] == "18089"


def test_the_gateway_port_setting_is_checked() -> None:
    assert gateway_url({}) == "http://127.0.0.1:8080"
    assert gateway_url({"GATEWAY_PORT": "9000"}) == "http://127.0.0.1:9000"
    with pytest.raises(ValueError, match="GATEWAY_PORT must be a port number"):
        gateway_url({"GATEWAY_PORT": "eighty"})


def test_up_without_load_adds_no_process() -> None:
    assert load_processes(0, _plan(None, None, stack=False).shop, None) == []


def test_up_load_adds_the_generator_last_gently_without_tokens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "18080")
    monkeypatch.setenv("GATEWAY_API_KEYS", " ,key-one,key-two")
    monkeypatch.delenv(API_KEY_VARIABLE, raising=False)
    monkeypatch.delenv("MINISHOP_FLAGS_FILE", raising=False)
    (spec,) = load_processes(5, _plan(None, None, stack=False).shop, tmp_path)
    assert spec.name == LOADGEN
    assert (spec.host, spec.port, spec.ready_path) == ("127.0.0.1", 8089, "/")
    assert spec.withheld == TOKEN_VARIABLES
    assert spec.env == {API_KEY_VARIABLE: "key-one"}  # in the environment, not in argv
    command = list(spec.command or [])
    assert "key-one" not in " ".join(command)
    assert command[command.index("--host") + 1] == "http://127.0.0.1:18080"
    assert command[command.index("--users") + 1] == "5"
    assert command[command.index("--flags-file") + 1] == str(tmp_path / "flags.json")
    assert {"--web", "--autostart"} <= set(command)
    assert float(command[command.index("--think-min") + 1]) >= 1  # a person's pace


def test_loadgen_command_names_each_setting_once() -> None:
    command = loadgen_command("http://h:1", 2, 1.0, (0.1, 0.2), None, 0, duration=5)
    flags = [part for part in command if part.startswith("--")]
    assert len(flags) == len(set(flags))
    assert "--flags-file" not in flags and "--web" not in flags
