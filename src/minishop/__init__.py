"""MiniShop: a small shop whose real product is the view inside it (traces, metrics, logs).

``__version__`` is read on first use: importlib.metadata costs a process ~7 MB and 50 ms,
and the span exporter process (``minishop.export_worker``) never needs it.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'minishop' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("minishop")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0"
    globals()["__version__"] = found
    return found
