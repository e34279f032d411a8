"""``minishop chaos list | set | clear`` against a flag file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from minishop.cli.app import cli
from minishop.flags.document import read_document
from minishop.flags.source import evaluate


def _chaos(path: Path, *args: str):
    return CliRunner().invoke(cli, ["chaos", *args, "--flags-file", str(path)])


def test_set_list_and_clear(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    assert _chaos(path, "set", "payment_failure", "30").exit_code == 0
    assert _chaos(path, "set", "cpu_burn", "orders", "40").exit_code == 0
    listed = _chaos(path, "list").output
    assert "payment_failure      on     30 % declined" in listed
    assert "cpu_burn             on     orders 40 ms per request" in listed
    assert "readiness_failure    off" in listed
    assert _chaos(path, "clear", "payment_failure").exit_code == 0
    active = evaluate(read_document(path), {"service": "orders"})
    assert active.payment_failure is None
    assert active.cpu_burn is not None
    assert _chaos(path, "clear").exit_code == 0
    assert not evaluate(read_document(path), {"service": "orders"}).any()


def test_a_switch_set_to_off_is_off(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    _chaos(path, "set", "payment_unreachable", "on")
    assert evaluate(read_document(path), {"service": "x"}).payment_unreachable
    _chaos(path, "set", "payment_unreachable", "off")
    assert not evaluate(read_document(path), {"service": "x"}).payment_unreachable


def test_bad_input_is_one_clear_line_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    _chaos(path, "set", "payment_failure", "20")
    before = path.read_bytes()
    for args in (
        ("set", "payment_failure", "120"),
        ("set", "nope", "1"),
        ("set", "service_latency", "orders"),
        ("clear", "nope"),
    ):
        result = _chaos(path, *args)
        assert result.exit_code == 2, args
        assert "minishop: " in result.output
        assert path.read_bytes() == before


def test_a_corrupt_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text("{oops")
    result = _chaos(path, "set", "payment_failure", "20")
    assert result.exit_code == 2
    assert "is not a flag file" in result.output
    assert path.read_text() == "{oops"
