"""``python -m minishop.serve NAME``: one service, without the command line's libraries.

The same entry point as ``python -m minishop serve NAME`` (the package's ``__main__``
sends that form here); the work is in ``minishop.cli.serving``. This module imports only
the standard library, so that :func:`keep_out_terminal_libraries` runs before anything
else is loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

TERMINAL_LIBRARIES = ("rich", "pygments")
"""Loaded only because they are installed (the command line's typer needs them): structlog
imports rich for its console renderer's tracebacks, httpx imports rich and pygments for its
own command line. A service renders neither (its logs are JSON lines, its tracebacks
structlog's plain ``format_exc_info``), and they cost it 3 to 7 MB of RSS (rich 2.3,
pygments 0.9 to 4.7; ``bench/import_cost.py``)."""


def keep_out_terminal_libraries() -> None:
    """Make an import of the terminal libraries fail in this process, as if not installed.

    Both importers handle that case (it is how they behave without the extra installed);
    ``sys.modules[name] = None`` is Python's documented way to say it. A library already
    loaded is left alone: this only keeps out what nothing has asked for yet.
    """
    for name in TERMINAL_LIBRARIES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    keep_out_terminal_libraries()
    from minishop.cli.serving import main as serve

    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
