"""Switch fault flags in tests, and return only once the services see the change.

- ``write_flag`` / ``clear_flag``: edit a flag file as ``minishop chaos`` does.
- ``switch_on`` / ``switch_off``: the same for an in-process shop (``running_shop``),
  then make every app re-read the file at once instead of waiting for its watcher.
- ``chaos``: run the real ``minishop chaos`` against real processes (``shop_processes``),
  then poll each service until it sees what the file now says.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from minishop.flags import CATALOG, flag_spec
from minishop.flags.document import (
    locked,
    read_document,
    switched_off,
    switched_on,
    write_document,
)
from minishop.flags.source import FlagSource, evaluate
from minishop.manifest import MANIFEST
from tests.support.helpers import wait_until
from tests.support.processes import RunningShop
from tests.support.shop import Shop


def write_flag(path: Path, name: str, *value: str) -> None:
    """Switch ``name`` on at ``value`` (the words of ``minishop chaos set``) in ``path``."""
    spec = flag_spec(name)
    parsed = spec.parse(value)
    with locked(path):
        document = read_document(path)
        if parsed is False:  # `payment_unreachable off`, as the command line reads it
            document = switched_off(document, spec)
        else:
            document = switched_on(document, spec, parsed)
        write_document(path, document)


def clear_flag(path: Path, name: str | None = None) -> None:
    """Switch ``name`` off in ``path``; every flag when ``name`` is None."""
    with locked(path):
        document = read_document(path)
        for spec in [flag_spec(name)] if name else CATALOG:
            document = switched_off(document, spec)
        write_document(path, document)


def shop_flags_file(shop: Shop) -> Path:
    """The one flag file every app of the in-process shop watches."""
    paths = {app.state.flags.path for app in shop.apps.values()}
    assert len(paths) == 1 and None not in paths, f"the apps watch {paths}"
    return paths.pop()


def _refresh(shop: Shop) -> None:
    for app in shop.apps.values():
        app.state.flags.refresh()


def switch_on(shop: Shop, name: str, *value: str) -> None:
    """Switch ``name`` on for the whole in-process shop, effective on return."""
    write_flag(shop_flags_file(shop), name, *value)
    _refresh(shop)


def switch_off(shop: Shop, name: str | None = None) -> None:
    """Switch ``name`` (or every flag) off for the whole in-process shop, effective on return."""
    clear_flag(shop_flags_file(shop), name)
    _refresh(shop)


# -- real processes ---------------------------------------------------------------------

ADMIN_SERVICES = tuple(entry.name for entry in MANIFEST.shop if entry.holds_credentials)
"""The services that serve GET /admin/flags."""
COUNTING_SERVICES = tuple(entry.name for entry in MANIFEST.shop if not entry.holds_credentials)
"""The others (the gateway, which holds no admin token): their changes are counted."""


def processes_flags_file(running: RunningShop) -> Path:
    """The flag file the processes watch, as the first of them reports it."""
    response = httpx.get(
        f"{running.urls[ADMIN_SERVICES[0]]}/admin/flags",
        headers=running.admin_headers(),
        timeout=5,
    )
    response.raise_for_status()
    return Path(response.json()["file"])


def chaos(running: RunningShop, *args: str, timeout: float = 15.0) -> str:
    """Run ``minishop chaos ARGS`` on the processes' flag file and wait until all see it.

    Services with ``GET /admin/flags`` must report exactly what the file now says; the
    gateway, which has no admin route, must have counted each change in
    ``feature_flag_changes_total``. Returns the command's output.
    """
    path = processes_flags_file(running)
    before_document = read_document(path)
    counted = {name: _changes_counted(running.urls[name]) for name in COUNTING_SERVICES}
    result = subprocess.run(
        [sys.executable, "-m", "minishop", "chaos", *args, "--flags-file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        f"minishop chaos {' '.join(args)}:\n{result.stdout}{result.stderr}"
    )
    after_document = read_document(path)
    expected = {name: _seen_by(path, name) for name in ADMIN_SERVICES}
    wanted = {name: _changes(before_document, after_document, name) for name in counted}
    headers = running.admin_headers()

    def seen() -> bool:
        for name, flags in expected.items():
            url = f"{running.urls[name]}/admin/flags"
            if httpx.get(url, headers=headers, timeout=5).json()["flags"] != flags:
                return False
        for name, changes in wanted.items():
            now = _changes_counted(running.urls[name])
            if any(now.get(key, 0) <= counted[name].get(key, 0) for key in changes):
                return False
        return True

    wait_until(
        seen,
        timeout=timeout,
        interval=0.2,
        message=f"every service sees `minishop chaos {' '.join(args)}`",
        ignoring=(httpx.HTTPError,),
    )
    return result.stdout


def _seen_by(path: Path, service: str) -> dict:
    """The ``flags`` of ``GET /admin/flags`` for ``service`` once it has read ``path``."""
    source = FlagSource(path, service=service)
    source.refresh()
    return source.snapshot()["flags"]


def _changes(before: dict, after: dict, service: str) -> list[tuple[str, str]]:
    """(flag, variant now in force) for each flag whose value ``service`` sees change."""
    old, new = evaluate(before, {"service": service}), evaluate(after, {"service": service})
    return [
        (name, new.variant(name))
        for name in (spec.name for spec in CATALOG)
        if old.value(name) != new.value(name)
    ]


def _changes_counted(url: str) -> dict[tuple[str, str], float]:
    """``feature_flag_changes_total`` of one service, by (flag, variant)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        (sample.labels["flag"], sample.labels["variant"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "feature_flag_changes"
        for sample in family.samples
        if sample.name == "feature_flag_changes_total"
    }
