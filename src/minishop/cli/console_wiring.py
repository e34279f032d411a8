"""How ``minishop up`` ties the console to the rest of the lab.

The console is started first and every other process is pointed at it: services export
their traces and a copy of their log lines to its OTLP receiver (unless the person chose
another endpoint), and the console is told where each process really listens, so its home
page, dashboards and alerts read the running ones. The console itself exports nothing: its
own requests would otherwise feed its receiver, a loop that only adds noise.
"""

from __future__ import annotations

from collections.abc import Mapping

CONSOLE = "console"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
NO_EXPORT = {"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}


def export_to_console(otlp_url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that send a service's traces and logs to the console.

    An endpoint set by the person wins (the README's way to use a Collector or Jaeger); so
    does their own choice of log exporter.
    """
    if any(environ.get(variable) for variable in ENDPOINT_VARIABLES):
        return {}
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url}
    if "OTEL_LOGS_EXPORTER" not in environ:
        env["OTEL_LOGS_EXPORTER"] = "otlp"
    return env


def console_endpoint(environ: Mapping[str, str], otlp_url: str) -> str | None:
    """Where the services' traces go: the console's receiver, or the endpoint set by hand."""
    for variable in ENDPOINT_VARIABLES:
        if environ.get(variable):
            return None if environ[variable].rstrip("/") == otlp_url else environ[variable]
    return None


OTLP_PORT_VARIABLE = "MINISHOP_OTLP_PORT"  # CONTRACT section 8; the console reads it too
PAYMENT_FAILED_QUERY = '{app="minishop"} |= "payment failed"'  # CONTRACT section 4
