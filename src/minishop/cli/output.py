"""How the command line reports a failure: one red line on stderr, exit code 2."""

from __future__ import annotations

import typer


def fail(message: str) -> typer.Exit:
    """The ``Exit`` to raise after saying ``message``; ``raise fail(...) from None``."""
    typer.secho(f"minishop: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)
