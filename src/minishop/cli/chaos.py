"""``minishop chaos``: list, set and clear the fault flags (CONTRACT §9).

It edits the flag file every service watches (``MINISHOP_FLAGS_FILE``, by default
``<data dir>/flags.json``); each service sees a change within half a second, logs it and
counts it in ``feature_flag_changes_total``. In the Compose stack the file is on a volume
that every service mounts: ``docker compose exec orders minishop chaos set ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from minishop.cli.output import fail
from minishop.flags import CATALOG, InvalidFlagValue, flag_spec
from minishop.flags.document import (
    FLAGS_FILE_VARIABLE,
    InvalidFlagFile,
    locked,
    read_document,
    switched_off,
    switched_on,
    write_document,
)
from minishop.flags.source import evaluate

chaos = typer.Typer(
    help="Fault flags: switch faults on and off while the shop runs (no restart).",
    no_args_is_help=True,
)

FlagsFile = Annotated[
    Path | None,
    typer.Option(
        "--flags-file",
        help=f"The flag file (default: ${FLAGS_FILE_VARIABLE}, else <data dir>/flags.json).",
    ),
]


def flags_path(flags_file: Path | None) -> Path:
    """The flag file this command edits: the option, the variable, else the data dir's."""
    if flags_file is not None:
        return flags_file
    from minishop.cli.app import data_dir_default  # the services' own default data dir
    from minishop.flags.document import default_flags_path

    return default_flags_path(data_dir_default())


def _read(path: Path) -> dict:
    try:
        return read_document(path)
    except InvalidFlagFile as exc:
        raise fail(f"{path} is not a flag file: {exc}") from None
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None


def _write(path: Path, document: dict) -> None:
    try:
        write_document(path, document)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}") from None


@chaos.command("list")
def list_flags(flags_file: FlagsFile = None) -> None:
    """Every flag, whether it is on, and what it does."""
    path = flags_path(flags_file)
    active = evaluate(_read(path), {"service": ""})
    width = max(len(spec.name) for spec in CATALOG)
    typer.echo(f"{'flag':<{width}}  {'state':<5}  value / effect")
    for spec in CATALOG:
        value = active.value(spec.name)
        state = "on" if value is not None else "off"
        shown = spec.show(value) if value is not None else spec.description
        typer.echo(f"{spec.name:<{width}}  {state:<5}  {shown}")
    typer.echo(f"\nFile: {path}. Set one: minishop chaos set NAME VALUE (see --help).")


def _set_help() -> str:
    lines = ["Switch a fault on. NAME and VALUE:\n"]
    lines += [
        f"  {spec.name} {spec.usage}  (e.g. {spec.example}): {spec.description}\n"
        for spec in CATALOG
    ]
    return escape("\n".join(lines))  # usages such as SERVICE[/ROUTE] are not rich markup


@chaos.command("set", help=_set_help())
def set_flag(
    name: Annotated[str, typer.Argument(help="The flag, e.g. payment_failure.")],
    value: Annotated[list[str], typer.Argument(help="Its value, e.g. 30.")],
    flags_file: FlagsFile = None,
) -> None:
    try:
        spec = flag_spec(name)
        parsed = spec.parse(value)
    except InvalidFlagValue as exc:
        raise fail(f"{name}: {exc}") from None
    path = flags_path(flags_file)
    with locked(path):
        document = _read(path)
        if parsed is False:  # `payment_unreachable off`
            document = switched_off(document, spec)
        else:
            document = switched_on(document, spec, parsed)
        _write(path, document)
    shown = spec.show(spec.value_of(parsed)) if spec.value_of(parsed) is not None else "off"
    typer.echo(f"{spec.name}: {shown} (services pick it up within a second)")


@chaos.command("schedule")
def schedule(
    seed: Annotated[int, typer.Option(help="The game day's seed: the same seed, the same plan.")],
    duration: Annotated[
        str,
        typer.Option(help="How long it lasts: 30m, 1h, 90s (at least a few minutes for alerts)."),
    ] = "30m",
    reveal: Annotated[bool, typer.Option(help="Print the plan at the start too.")] = False,
    plan_only: Annotated[
        bool, typer.Option("--plan-only", help="Print the plan and exit: switch nothing.")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Pick faults among these flags only.")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(help="Where the report goes (default: gamedays/ beside the flag file)."),
    ] = None,
    flags_file: FlagsFile = None,
) -> None:
    """Switch random faults on and off over time; the plan is revealed at the end."""
    from minishop.cli.gameday import plan_lines, run_game_day
    from minishop.flags.gameday import parse_duration, plan_game_day

    try:
        seconds = parse_duration(duration)
        plan = plan_game_day(seed, seconds, only)
    except (ValueError, InvalidFlagValue) as exc:
        raise fail(str(exc)) from None
    if plan_only:
        typer.echo(f"Game day {seed}, {duration}:")
        typer.echo("\n".join(plan_lines(plan)))
        return
    path = flags_path(flags_file)
    run_game_day(
        plan,
        seed=seed,
        duration=seconds,
        flags_path=path,
        report_dir=report_dir or path.parent / "gamedays",
        reveal=reveal,
    )


@chaos.command("clear")
def clear_flags(
    name: Annotated[str | None, typer.Argument(help="The flag; all of them when left out.")] = None,
    flags_file: FlagsFile = None,
) -> None:
    """Switch one fault off, or all of them."""
    try:
        specs = [flag_spec(name)] if name else list(CATALOG)
    except InvalidFlagValue as exc:
        raise fail(str(exc)) from None
    path = flags_path(flags_file)
    with locked(path):
        document = _read(path)
        for spec in specs:
            document = switched_off(document, spec)
        _write(path, document)
    typer.echo(f"{name or 'every flag'}: off")
