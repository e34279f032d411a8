"""How ``minishop up`` starts a service under OpenTelemetry's zero-code instrumentation.

In zero-code mode (``MINISHOP_TELEMETRY=zero-code``, see ``observability.mode``) each of the
shop's services runs as ``opentelemetry-instrument python -m minishop serve NAME``: the agent
configures the SDK from ``OTEL_*`` variables, enables every contrib instrumentor installed
(FastAPI/ASGI, aiohttp-client, httpx, sqlite3, asyncpg, SQLAlchemy) and then ``exec``s the
service's command, so the service keeps its process id. The packages come with the
``zero-code`` extra; nothing imports them unless the agent runs.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

AGENT = "opentelemetry-instrument"
EXTRA_HINT = "pip install -e '.[zero-code]' (./dev installs it)"


class AgentMissing(Exception):
    """Zero-code mode was asked for, but ``opentelemetry-instrument`` is not installed."""


def agent_path() -> str:
    """``opentelemetry-instrument`` beside this interpreter (its venv), else on ``PATH``.

    The one beside the interpreter comes first: an agent from another environment would
    configure an SDK the service cannot import.
    """
    beside = Path(sys.executable).parent / AGENT
    if beside.is_file():
        return str(beside)
    found = shutil.which(AGENT)
    if found is None:
        raise AgentMissing(
            f"MINISHOP_TELEMETRY=zero-code needs {AGENT} and the contrib instrumentors: "
            f"{EXTRA_HINT}"
        )
    return found


def agent_env(service: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The agent's settings for ``service``: every trace exported over OTLP/HTTP, no metrics
    or logs (MiniShop's own /metrics and JSON lines stay), the service's name on its spans.

    The endpoint is left as ``environ`` and ``minishop up`` set it (the console, or the one a
    person chose); a resource attribute set by hand is kept.
    """
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": service,
        "OTEL_TRACES_SAMPLER": "always_on",
    }
    if "OTEL_RESOURCE_ATTRIBUTES" not in environ:
        env["OTEL_RESOURCE_ATTRIBUTES"] = "service.namespace=minishop"
    return env


def under_agent(agent: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run by the agent, which execs it once the instrumentation is in place."""
    return [agent, *argv]
