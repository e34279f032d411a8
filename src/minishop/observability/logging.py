"""JSON logs on stdout, one object per line, correlated with the active trace.

structlog's native pipeline with orjson and a bytes logger is the cheapest way to
emit a structured line (about 9 µs, see shared PERF-NOTES); the standard library's
records (uvicorn, alembic, SQLAlchemy) are bridged into the same pipeline so every
line on stdout has the same shape.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import IO, Any

import orjson
import structlog
from opentelemetry import trace

from minishop.observability.scrubbing import mask_email, scrub_event

__all__ = [
    "APP_NAME",
    "already_logged",
    "configure_logging",
    "get_logger",
    "mark_logged",
    "mask_email",
    "parse_level",
]
APP_NAME = "minishop"

# Set on an exception once a line has carried it, so a second report of the same
# failure (uvicorn's "Exception in ASGI application") is dropped: one failure, one line.
_LOGGED_MARK = "_minishop_logged"


def mark_logged(error: BaseException) -> None:
    """Remember that ``error`` has been logged with its context."""
    with contextlib.suppress(AttributeError, TypeError):  # a few built-ins refuse attributes
        setattr(error, _LOGGED_MARK, True)


def already_logged(error: BaseException | None) -> bool:
    return error is not None and getattr(error, _LOGGED_MARK, False) is True


def _add_trace_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Put the active span's ids on the line so a log search can jump to its trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def _static_fields(service: str) -> structlog.types.Processor:
    def add(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        event["app"] = APP_NAME
        event.setdefault("service", service)
        return event

    return add


def _rename_level(
    _logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event["level"] = "warning" if method == "warn" else method
    return event


class _SafeBytesLogger(structlog.BytesLogger):
    """Writes lines like structlog's BytesLogger, but a broken stdout never fails a request.

    When whoever reads the service's stdout goes away (a killed supervisor, a closed
    pipe), the line is dropped instead of raising into the request that logged it.
    """

    def msg(self, message: bytes) -> None:
        try:
            super().msg(message)
        except (OSError, ValueError):  # EPIPE, or the stream was closed
            return

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _SafeBytesLoggerFactory:
    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _SafeBytesLogger:
        return _SafeBytesLogger(self._file, name=args[0] if args else None)


class _StdlibBridge(logging.Handler):
    """Sends standard-library records through the structlog pipeline."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and already_logged(record.exc_info[1]):
            return  # the request's own line already carries this failure
        try:
            logger = structlog.get_logger()
            kwargs: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                kwargs["exc_info"] = record.exc_info
            logger.log(record.levelno, record.getMessage(), **kwargs)
        except Exception:  # a log line must never break the caller
            self.handleError(record)


def parse_level(level: str | int) -> int:
    """Turn ``"info"`` or ``20`` into a level number, refusing names that mean nothing."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}: use debug, info, warning or error")
    return number


def configure_logging(
    service: str,
    level: str | int = "INFO",
    stream: IO[bytes] | None = None,
    forward: structlog.types.Processor | None = None,
) -> None:
    """Set up the process-wide JSON log pipeline for ``service``.

    Logging is process state: each service runs in its own process, so the last
    call wins and that is what the services rely on. ``forward`` sees every finished
    event (scrubbed, with its trace ids) before it is written, to send a copy elsewhere.
    """
    level_number = parse_level(level)
    output = stream if stream is not None else sys.stdout.buffer
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _rename_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            _static_fields(service),
            _add_trace_context,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            # Last before anything leaves: it must see the formatted exception text too.
            scrub_event,
            *([forward] if forward is not None else []),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=_SafeBytesLoggerFactory(output),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StdlibBridge):
            root.removeHandler(handler)
    root.addHandler(_StdlibBridge())
    root.setLevel(level_number)
    # Libraries that would otherwise log every retry or every statement at our level.
    logging.getLogger("opentelemetry.exporter.otlp").setLevel(logging.CRITICAL)
    # "Shutdown called, ignoring Log.": the last lines of a stop, after the OTLP copy ended.
    logging.getLogger("opentelemetry.sdk._shared_internal").setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the client spans already say this
    logging.getLogger("uvicorn.access").disabled = True  # the middleware logs each request once


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name) if name else structlog.get_logger()
