"""The flag file: a flagd flag-definition document (https://flagd.dev/schema/v0/flags.json).

The same file works with a real flagd and OpenFeature: each flag has an ``off`` and an
``on`` variant and ``defaultVariant`` says which is in force; ``targeting`` rules a person
adds by hand are kept and evaluated. Writes replace the file in one rename, under a lock,
so a reader never sees half a file and two writers never lose each other's change.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from minishop.flags.catalog import CATALOG, FlagSpec

SCHEMA = "https://flagd.dev/schema/v0/flags.json"
ON = "on"
OFF = "off"
FLAGS_FILE_VARIABLE = "MINISHOP_FLAGS_FILE"
FLAGS_FILE_NAME = "flags.json"


class InvalidFlagFile(ValueError):
    """The flag file cannot be read as a flagd document; the message says where."""


def default_flags_path(data_dir: Path) -> Path:
    """Where the lab keeps its flag file unless ``MINISHOP_FLAGS_FILE`` says otherwise."""
    configured = os.environ.get(FLAGS_FILE_VARIABLE, "").strip()
    return Path(configured) if configured else data_dir / FLAGS_FILE_NAME


def _flag_entry(spec: FlagSpec, on_value: Any | None = None) -> dict[str, Any]:
    return {
        "state": "ENABLED",
        "variants": {OFF: spec.off, ON: spec.off if on_value is None else on_value},
        "defaultVariant": OFF,
        "metadata": {"description": spec.description, "usage": spec.usage},
    }


def default_document() -> dict[str, Any]:
    """Every flag of the catalog, all off."""
    return {"$schema": SCHEMA, "flags": {spec.name: _flag_entry(spec) for spec in CATALOG}}


def _switched(document: dict[str, Any], spec: FlagSpec, variant: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    flags = changed.setdefault("flags", {})
    entry = flags.get(spec.name)
    if not isinstance(entry, dict):
        entry = _flag_entry(spec)
    variants = entry.get("variants") if isinstance(entry.get("variants"), dict) else {}
    entry["variants"] = {**variants, OFF: spec.off, ON: value}
    entry["defaultVariant"] = variant
    entry["state"] = "ENABLED"
    entry.pop("targeting", None)  # what the command line sets holds for everyone
    flags[spec.name] = entry
    return changed


def switched_on(document: dict[str, Any], spec: FlagSpec, value: Any) -> dict[str, Any]:
    """``document`` with ``spec`` on at ``value`` (a JSON value its ``parse`` returned)."""
    return _switched(document, spec, ON, value)


def switched_off(document: dict[str, Any], spec: FlagSpec) -> dict[str, Any]:
    """``document`` with ``spec`` off (its last ``on`` value kept, for reference)."""
    entry = document.get("flags", {}).get(spec.name)
    variants = entry.get("variants") if isinstance(entry, dict) else None
    last = variants.get(ON, spec.off) if isinstance(variants, dict) else spec.off
    return _switched(document, spec, OFF, last)


def parse_document(data: bytes) -> dict[str, Any]:
    """The document in ``data``; :class:`InvalidFlagFile` when it is not one."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidFlagFile(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("flags", {}), dict):
        raise InvalidFlagFile('expected an object with a "flags" object')
    return document


def read_document(path: Path) -> dict[str, Any]:
    """The file's document; every flag off when there is no file yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return default_document()
    return parse_document(data)


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Replace the file with ``document`` in one step (a reader sees the old or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the file's writer lock: one read-modify-write at a time across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
