"""Switch fault flags in tests: in-process shops (``running_shop``) and real processes.

In-process, the flag file is written the way ``minishop chaos`` writes it and every
service is told to read it again at once (no waiting for the 0.5 s watcher). Against
``minishop up`` processes, ``minishop chaos`` itself edits the file and the call waits
until the service concerned reports the flag through its ``GET /admin/flags``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from minishop.flags import flag_spec
from minishop.flags.document import read_document, switched_off, switched_on, write_document
from tests.support.helpers import wait_until
from tests.support.processes import RunningShop
from tests.support.shop import Shop


def _flags_path(shop: Shop) -> Path:
    (path,) = {app.state.flags.path for app in shop.apps.values() if app.state.flags.path}
    return path


def _refresh(shop: Shop) -> None:
    for app in shop.apps.values():
        app.state.flags.refresh()


def switch_on(shop: Shop, name: str, *value: str) -> None:
    """Turn ``name`` on at ``value`` (its ``minishop chaos set`` words) in every service."""
    spec = flag_spec(name)
    path = _flags_path(shop)
    write_document(path, switched_on(read_document(path), spec, spec.parse(list(value))))
    _refresh(shop)


def switch_off(shop: Shop, name: str) -> None:
    spec = flag_spec(name)
    path = _flags_path(shop)
    write_document(path, switched_off(read_document(path), spec))
    _refresh(shop)


def chaos(shop: RunningShop, *arguments: str, service: str) -> None:
    """Run ``minishop chaos ARGUMENTS`` on ``shop``'s flag file; wait until ``service`` sees it.

    ``set NAME VALUE...`` waits for NAME on, ``clear NAME`` for NAME off.
    """
    path = shop.log_path.parent / "data" / "flags.json"  # `minishop up --data-dir <tmp>/data`
    command = [sys.executable, "-m", "minishop", "chaos", *arguments, "--flags-file", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    name = arguments[1]
    wanted = "off" if arguments[0] == "clear" or arguments[2:] == ("off",) else "on"

    def seen() -> bool:
        answer = httpx.get(
            f"{shop.urls[service]}/admin/flags", headers=shop.admin_headers(), timeout=5
        )
        return answer.json()["flags"][name]["variant"] == wanted

    wait_until(seen, timeout=10, interval=0.1, message=f"{service} never saw {name} {wanted}")
