"""POSTs encoded OTLP requests to the collector, with the SDK exporter's retry policy.

Configured from the standard variables, as the SDK's OTLP/HTTP exporter reads them:
``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` / ``_HEADERS`` / ``_TIMEOUT`` / ``_COMPRESSION``
/ ``_CERTIFICATE`` / ``_CLIENT_KEY`` / ``_CLIENT_CERTIFICATE``. Retries follow the SDK
(opentelemetry-exporter-otlp-common 0.66): up to 6 attempts on 429/502/503/504 or a
connection error, backoff ``2**attempt`` seconds with 20 % jitter (or ``Retry-After``),
all within the export timeout, and abandoned as soon as the worker is told to stop.
The HTTP is ``connection``'s; ``urllib.parse`` and ``random`` are left out for what they
import (``ipaddress``, ``re``, ``hashlib`` bits: about 1 MB a process): an endpoint and a
header list are split here, and the jitter's randomness comes from ``os.urandom``.
"""

from __future__ import annotations

import os
import threading
import time

from minishop.export_worker.connection import Connection, ResponseError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from ssl import SSLContext

MAX_ATTEMPTS = 6
JITTER = 0.2
RETRYABLE = frozenset({429, 502, 503, 504})
DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_TIMEOUT = 10.0


def _setting(environ: Mapping[str, str], signal: str, name: str) -> str:
    return environ.get(f"OTEL_EXPORTER_OTLP_{signal}_{name}") or environ.get(
        f"OTEL_EXPORTER_OTLP_{name}", ""
    )


def unquote(text: str) -> str:
    """Percent-decoding as ``urllib.parse.unquote`` does it (UTF-8, bad bytes replaced)."""
    if "%" not in text:
        return text
    first, *rest = text.split("%")
    out = bytearray(first.encode())
    for part in rest:
        code = part[:2]
        if len(code) == 2 and all(c in "0123456789abcdefABCDEF" for c in code):
            out.append(int(code, 16))
            out += part[2:].encode()
        else:
            out += b"%" + part.encode()
    return out.decode("utf-8", "replace")


def _headers(raw: str) -> dict[str, str]:
    """``key=value,key2=value2``, URL-encoded as the specification says; bad pairs are skipped
    (as are those an HTTP header cannot carry: a line break, or a value not in Latin-1)."""
    headers = {}
    for pair in raw.split(","):
        key, sep, value = pair.partition("=")
        name, value = unquote(key.strip()).lower(), unquote(value.strip())
        if not sep or not _is_token(name) or not _is_field_value(value):
            continue
        headers[name] = value
    return headers


def _is_token(name: str) -> bool:
    return bool(name) and all(
        c.isascii() and c.isprintable() and c not in _SEPARATORS for c in name
    )


def _is_field_value(value: str) -> bool:
    return all(c == "\t" or (" " <= c <= "\xff" and c != "\x7f") for c in value)


_SEPARATORS = frozenset('()<>@,;:\\"/[]?={} \t')


class Endpoint:
    """An http(s) URL split into what a request needs; anything else is a ValueError."""

    def __init__(self, url: str) -> None:
        scheme, sep, rest = url.partition("://")
        self.scheme = scheme.lower()
        if not sep or self.scheme not in ("http", "https"):
            raise ValueError(f"OTLP endpoint must be an http(s) URL, got {url!r}")
        rest = rest.partition("#")[0]
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        authority, target = rest[:cut], rest[cut:]
        self.target = target if target.startswith("/") else "/" + target
        host_port = authority.rpartition("@")[2]
        if host_port.startswith("["):  # an IPv6 literal: [::1]:4318
            host, _, port = host_port[1:].partition("]")
            port = port.removeprefix(":") if port.startswith(":") or not port else "?"
        else:
            host, _, port = host_port.partition(":")
        self.host = host
        if not host or not (port.isdigit() or not port) or not 0 < int(port or 1) < 65536:
            raise ValueError(f"OTLP endpoint must be an http(s) URL, got {url!r}")
        default = 443 if self.scheme == "https" else 80
        self.port = int(port) if port else default
        shown = f"[{host}]" if ":" in host else host
        self.host_header = shown if self.port == default else f"{shown}:{self.port}"
        if any(c <= " " or c == "\x7f" for c in self.target + self.host_header):
            raise ValueError(f"OTLP endpoint has a space or control character: {url!r}")


class SenderConfig:
    """Where and how to POST. A plain class: dataclasses would import inspect into the worker."""

    def __init__(
        self,
        endpoint: str,
        timeout: float = DEFAULT_TIMEOUT,
        compression: str = "none",
        headers: dict[str, str] | None = None,
        certificate: str = "",
        client_key: str = "",
        client_certificate: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.compression = compression
        self.headers = headers or {}
        self.certificate = certificate
        self.client_key = client_key
        self.client_certificate = client_certificate

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], signal: str = "TRACES") -> SenderConfig:
        path = {"TRACES": "v1/traces", "LOGS": "v1/logs"}[signal]
        endpoint = environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") or (
            (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT).removesuffix("/")
            + f"/{path}"
        )
        raw_timeout = _setting(environ, signal, "TIMEOUT")
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT
        except ValueError:
            timeout = DEFAULT_TIMEOUT
        compression = _setting(environ, signal, "COMPRESSION").strip().lower() or "none"
        if compression not in ("none", "gzip", "deflate"):
            compression = "none"
        return cls(
            endpoint=endpoint,
            timeout=timeout,
            compression=compression,
            headers=_headers(_setting(environ, signal, "HEADERS")),
            certificate=_setting(environ, signal, "CERTIFICATE"),
            client_key=_setting(environ, signal, "CLIENT_KEY"),
            client_certificate=_setting(environ, signal, "CLIENT_CERTIFICATE"),
        )


class Sender:
    """One kept-alive connection to the collector; ``post`` retries, ``stop`` cuts retries short."""

    def __init__(self, config: SenderConfig) -> None:
        endpoint = Endpoint(config.endpoint)
        self._config = config
        self._target = endpoint.target
        headers = {"content-type": "application/x-protobuf", **config.headers}
        headers.pop("content-length", None)  # the body's own length is written per request
        headers.pop("host", None)
        if config.compression != "none":
            headers.setdefault("content-encoding", config.compression)
        self._head = f"Host: {endpoint.host_header}\r\n".encode("ascii") + b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()
        )
        tls = self._tls_context() if endpoint.scheme == "https" else None
        self._connection = Connection(endpoint.host, endpoint.port, tls=tls)
        self.stopping = threading.Event()

    def _tls_context(self) -> SSLContext:
        import ssl  # only for an https collector: it costs the worker ~5 MB

        context = ssl.create_default_context(cafile=self._config.certificate or None)
        if self._config.client_certificate:
            context.load_cert_chain(
                self._config.client_certificate, self._config.client_key or None
            )
        return context

    def _compress(self, data: bytes) -> bytes:
        if self._config.compression == "none":
            return data
        import zlib  # only when asked for: gzip is zlib with a gzip header (wbits 31)

        return zlib.compress(data, wbits=31 if self._config.compression == "gzip" else 15)

    def _attempt(self, body: bytes, timeout: float) -> tuple[int | None, float | None]:
        """The response status (None: no answer) and its Retry-After, in seconds."""
        connection = self._connection
        reused = connection.is_open
        try:
            response = connection.post(self._target, self._head, body, timeout)
        except TimeoutError:
            return None, None
        except (OSError, ResponseError):
            if not reused:
                return None, None
            try:  # a kept-alive connection the collector had closed: once more, at once
                response = connection.post(self._target, self._head, body, timeout)
            except (OSError, ResponseError):
                return None, None
        return response.status, _retry_after(response.headers.get("retry-after"))

    def post(self, data: bytes) -> bool:
        """Sends ``data``; True once the collector accepted it (2xx or 3xx)."""
        body = self._compress(data)
        deadline = time.monotonic() + self._config.timeout
        for attempt in range(MAX_ATTEMPTS):
            status, retry_after = self._attempt(body, max(deadline - time.monotonic(), 0.001))
            if status is not None and 200 <= status < 400:
                return True
            if status is not None and status not in RETRYABLE:
                return False
            backoff = 2**attempt * (1 - JITTER + 2 * JITTER * _uniform())
            if retry_after is not None:
                backoff = retry_after
            last = attempt + 1 == MAX_ATTEMPTS
            if last or backoff > deadline - time.monotonic() or self.stopping.wait(backoff):
                return False
        return False

    def close(self) -> None:
        self._connection.close()


def _uniform() -> float:
    """A number in [0, 1) for the backoff's jitter (``random`` would import hashlib's bits)."""
    return int.from_bytes(os.urandom(7), "big") / (1 << 56)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: the computed backoff serves
    return max(seconds, 0.0) if seconds == seconds and seconds != float("inf") else None
