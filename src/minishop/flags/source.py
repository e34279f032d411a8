"""Watches the flag file and hands out the faults in force, typed and ready to use.

flagd's own evaluator (``openfeature-flagd-core``) resolves each flag, so ``state``,
``defaultVariant`` and ``targeting`` mean what they mean to a real flagd. Targeting is
evaluated once per change of the file, with this process's context (``service``,
``environment``), not per request: a request then reads one attribute of a frozen
snapshot, which keeps the hot path far under its 5 µs budget (``bench/flags.py``).
OpenFeature's flagd provider in file mode was measured at +16.7 MB and 18 µs per
evaluation, over the budget; the evaluator alone at +1.3 MB.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext

from minishop.flags.catalog import CATALOG, CpuBurn, Flood, Latency
from minishop.flags.document import OFF, InvalidFlagFile, parse_document

# structlog directly, not minishop.observability: the load generator reads the flags too and
# should not load the OpenTelemetry SDK for a logger. Services configure structlog globally.
_log = structlog.get_logger("minishop.flags")
POLL_SECONDS = 0.5

ChangeListener = Callable[[str, str, Any], None]
"""Called with (flag, variant now in force, typed value or None) for each flag that changed."""


@dataclass(frozen=True)
class ActiveFaults:
    """The faults in force at one moment: a typed value per flag, None when it is off."""

    values: Mapping[str, Any] = field(default_factory=dict)
    variants: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        return self.values.get(name)

    def variant(self, name: str) -> str:
        return self.variants.get(name, OFF)

    @property
    def payment_failure(self) -> int | None:
        """Percent of payments the provider declines."""
        return self.values.get("payment_failure")

    @property
    def payment_unreachable(self) -> bool:
        return bool(self.values.get("payment_unreachable"))

    @property
    def service_latency(self) -> Latency | None:
        return self.values.get("service_latency")

    @property
    def product_db_error(self) -> int | None:
        return self.values.get("product_db_error")

    @property
    def orders_memory_leak(self) -> int | None:
        """KB kept per request."""
        return self.values.get("orders_memory_leak")

    @property
    def cpu_burn(self) -> CpuBurn | None:
        return self.values.get("cpu_burn")

    @property
    def readiness_failure(self) -> str | None:
        return self.values.get("readiness_failure")

    @property
    def traffic_flood(self) -> Flood | None:
        return self.values.get("traffic_flood")

    def any(self) -> bool:
        return any(value is not None for value in self.values.values())


NO_FAULTS = ActiveFaults()


def evaluate(document: Mapping[str, Any], context: Mapping[str, str]) -> ActiveFaults:
    """Resolve every catalog flag of ``document`` with flagd's evaluator, for ``context``.

    A flag missing from the document, disabled, or whose value this shop cannot read is
    off: a hand-edited file never turns into a fault nobody asked for.
    """
    core = FlagdCore()
    core.set_flags(_copy(document))
    evaluation_context = EvaluationContext(attributes=dict(context))
    values: dict[str, Any] = {}
    variants: dict[str, str] = {}
    for spec in CATALOG:
        try:
            details = _resolver(core, spec.off)(spec.name, spec.off, evaluation_context)
        except Exception:  # not in the file, or an invalid rule: no fault
            details = None
        raw = None if details is None else details.value
        value = spec.value_of(raw) if details is not None and details.variant else None
        values[spec.name] = value
        variants[spec.name] = (details.variant or OFF) if value is not None and details else OFF
    return ActiveFaults(values, variants)


def _resolver(core: FlagdCore, off: Any) -> Callable[..., Any]:
    """flagd's resolve method for the JSON type of a flag's values (it checks the type)."""
    if isinstance(off, bool):
        return core.resolve_boolean_value
    if isinstance(off, int):
        return core.resolve_integer_value
    if isinstance(off, str):
        return core.resolve_string_value
    return core.resolve_object_value


def _copy(document: Mapping[str, Any]) -> dict[str, Any]:
    # flagd's parser edits the dictionaries it is given.
    import copy

    return copy.deepcopy(dict(document))


class FlagSource:
    """One process's view of the flag file, refreshed when the file changes."""

    def __init__(
        self,
        path: Path | None,
        *,
        service: str,
        environment: str = "local",
        on_change: ChangeListener | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.service = service
        self._context = {"service": service, "environment": environment}
        self._on_change = on_change
        self._on_error = on_error
        self._signature: tuple[int, int, int] | None = None
        self.active: ActiveFaults = NO_FAULTS
        """The faults in force: read it on the hot path, it is replaced, never changed."""
        self.loaded_at: float | None = None
        self.last_error: str | None = None

    def refresh(self) -> bool:
        """Read the file again if it changed since last time; True when the faults changed."""
        if self.path is None:
            return False
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            signature = None
        except OSError as exc:
            self._failed(f"cannot read {self.path}: {exc}", None)
            return False
        else:
            signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if signature == self._signature and self.loaded_at is not None:
            return False
        if signature is None:
            document: Mapping[str, Any] = {"flags": {}}
        else:
            try:
                document = parse_document(self.path.read_bytes())
            except (OSError, InvalidFlagFile) as exc:
                self._failed(f"{self.path}: {exc}", signature)
                return False
        try:
            active = evaluate(document, self._context)
        except Exception as exc:  # flagd refused the document as a whole
            self._failed(f"{self.path}: {exc}", signature)
            return False
        self._signature = signature
        self.last_error = None
        self.loaded_at = time.time()
        return self._replace(active)

    def _failed(self, message: str, signature: tuple[int, int, int] | None) -> None:
        """Keep the last good faults; say so once per version of the file."""
        if signature is not None and signature == self._signature:
            return
        self._signature = signature
        self.last_error = message
        _log.warning("flag file unreadable, keeping the flags in force", error=message)
        if self._on_error is not None:
            self._on_error(message)

    def _replace(self, active: ActiveFaults) -> bool:
        previous = self.active
        self.active = active
        changed = False
        for spec in CATALOG:
            before, after = previous.value(spec.name), active.value(spec.name)
            if before == after:
                continue
            changed = True
            variant = active.variant(spec.name)
            _log.info(
                "feature flag changed",
                flag=spec.name,
                variant=variant,
                value=spec.show(after) if after is not None else "off",
            )
            if self._on_change is not None:
                self._on_change(spec.name, variant, after)
        return changed

    def snapshot(self) -> dict[str, Any]:
        """What this process sees, for ``GET /admin/flags``."""
        return {
            "service": self.service,
            "file": str(self.path) if self.path else None,
            "loaded_at": self.loaded_at,
            "error": self.last_error,
            "flags": {
                spec.name: {
                    "variant": self.active.variant(spec.name),
                    "value": spec.show(value)
                    if (value := self.active.value(spec.name)) is not None
                    else None,
                }
                for spec in CATALOG
            },
        }
