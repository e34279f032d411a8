"""Who traces a service: MiniShop's own instrumentation, or OpenTelemetry's zero-code agent.

``MINISHOP_TELEMETRY`` is read here and nowhere else. ``minishop`` (the default) builds the
service's tracer provider and its own server, client and database spans. ``zero-code`` leaves
tracing to ``opentelemetry-instrument`` and the contrib instrumentors, the way most people
instrument a Python service: the command line starts the shop's services under it, and the
service builds no provider and no spans of its own (metrics and JSON logs stay). The two run
the same shop, so ``bench/order_path.py`` can set them side by side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

TELEMETRY_VARIABLE = "MINISHOP_TELEMETRY"


class TelemetryMode(StrEnum):
    MINISHOP = "minishop"
    ZERO_CODE = "zero-code"


def telemetry_mode(environ: Mapping[str, str] | None = None) -> TelemetryMode:
    """The mode ``environ`` (the process's environment by default) asks for.

    An unknown value is refused rather than taken for the default: a comparison run that
    silently measured the wrong variant would be worse than no run.
    """
    raw = (os.environ if environ is None else environ).get(TELEMETRY_VARIABLE, "")
    value = raw.strip().lower() or TelemetryMode.MINISHOP
    try:
        return TelemetryMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in TelemetryMode)
        raise ValueError(f"{TELEMETRY_VARIABLE}={raw!r}: choose one of {choices}") from None
