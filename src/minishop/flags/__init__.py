"""Fault flags (CONTRACT §9): runtime switches kept in one flagd flag-definition file.

Every service, the load generator and ``minishop chaos`` share this package: the catalog
says what each flag means and how its value is written, ``document`` reads and writes the
file (the schema flagd and the OpenTelemetry Demo use), ``source`` reads it again when it
changed (services check every half second) and hands out the faults in force,
``evaluation`` makes each fault that changes a request visible on its span.
"""

from minishop.flags.catalog import (
    CATALOG,
    CpuBurn,
    FlagSpec,
    Flood,
    InvalidFlagValue,
    Latency,
    flag_spec,
)
from minishop.flags.evaluation import record_evaluation
from minishop.flags.source import ActiveFaults, FlagSource

__all__ = [
    "CATALOG",
    "ActiveFaults",
    "CpuBurn",
    "FlagSource",
    "FlagSpec",
    "Flood",
    "InvalidFlagValue",
    "Latency",
    "flag_spec",
    "record_evaluation",
]
