"""MiniShop: a small shop whose real product is the view inside it (traces, metrics, logs)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("minishop")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
