"""What the running supervisor knows of its children, shared with ``minishop status``.

``status`` runs in another process and sees only what the services answer; a child the
supervisor gave up on answers nothing, and "down" alone would not say that nobody is
going to restart it. The supervisor therefore writes a small JSON file into the data
folder whenever a child changes state; ``status`` reads it when the supervisor that
wrote it is still alive, and ignores it otherwise (a file left by a killed supervisor).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE_NAME = "minishop-up.json"


@dataclass(frozen=True)
class ChildStatus:
    state: str  # "running", "restarting" or "gave up"
    pid: int | None
    restarts: int
    detail: str = ""


def state_file(data_dir: Path) -> Path:
    return data_dir / STATE_FILE_NAME


def write_state(path: Path, children: Mapping[str, ChildStatus]) -> None:
    """Replace the file in one step, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "supervisor_pid": os.getpid(),
        "children": {name: asdict(status) for name, status in children.items()},
    }
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(payload, indent=2))
    partial.replace(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(path: Path) -> dict[str, ChildStatus]:
    """The children of a live supervisor; empty when there is none or the file is unusable."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        payload = json.loads(path.read_text())
        if not _alive(int(payload["supervisor_pid"])):
            return {}
        return {
            str(name): ChildStatus(
                state=str(status["state"]),
                pid=int(status["pid"]) if status.get("pid") is not None else None,
                restarts=int(status["restarts"]),
                detail=str(status.get("detail", "")),
            )
            for name, status in payload["children"].items()
        }
    return {}


def remove_state(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
