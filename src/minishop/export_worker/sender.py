"""POSTs encoded OTLP requests to the collector, with the SDK exporter's retry policy.

Configured from the standard variables, as the SDK's OTLP/HTTP exporter reads them:
``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` / ``_HEADERS`` / ``_TIMEOUT`` / ``_COMPRESSION``
/ ``_CERTIFICATE`` / ``_CLIENT_KEY`` / ``_CLIENT_CERTIFICATE``. Retries follow the SDK
(opentelemetry-exporter-otlp-common 0.66): up to 6 attempts on 429/502/503/504 or a
connection error, backoff ``2**attempt`` seconds with 20 % jitter (or ``Retry-After``),
all within the export timeout, and abandoned as soon as the worker is told to stop.
http.client rather than requests: it is already in the standard library, and the worker
stays small.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

MAX_ATTEMPTS = 6
JITTER = 0.2
RETRYABLE = frozenset({429, 502, 503, 504})
DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_TIMEOUT = 10.0


def _setting(environ: Mapping[str, str], signal: str, name: str) -> str:
    return environ.get(f"OTEL_EXPORTER_OTLP_{signal}_{name}") or environ.get(
        f"OTEL_EXPORTER_OTLP_{name}", ""
    )


def _headers(raw: str) -> dict[str, str]:
    """``key=value,key2=value2``, URL-encoded as the specification says; bad pairs are skipped."""
    headers = {}
    for pair in raw.split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


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
        url = urlsplit(config.endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"OTLP endpoint must be an http(s) URL, got {config.endpoint!r}")
        self._config = config
        self._url = url
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._headers = {"content-type": "application/x-protobuf", **config.headers}
        if config.compression != "none":
            self._headers.setdefault("content-encoding", config.compression)
        self._connection: http.client.HTTPConnection | None = None
        self.stopping = threading.Event()

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        host, port = self._url.hostname or "", self._url.port
        if self._url.scheme == "https":
            import ssl  # only for an https collector: it costs the worker a few MB

            context = ssl.create_default_context(cafile=self._config.certificate or None)
            if self._config.client_certificate:
                context.load_cert_chain(
                    self._config.client_certificate, self._config.client_key or None
                )
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _compress(self, data: bytes) -> bytes:
        if self._config.compression == "gzip":
            import gzip

            return gzip.compress(data)
        if self._config.compression == "deflate":
            import zlib

            return zlib.compress(data)
        return data

    def _attempt(self, body: bytes, timeout: float) -> tuple[int | None, float | None]:
        """The response status (None: no answer) and its Retry-After, in seconds."""
        for fresh in (False, True):  # a stale kept-alive connection gets one immediate retry
            if self._connection is None:
                self._connection = self._connect(timeout)
            self._connection.timeout = timeout
            if self._connection.sock is not None:
                self._connection.sock.settimeout(timeout)
            try:
                self._connection.request("POST", self._path, body=body, headers=self._headers)
                response = self._connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self._close()
                if fresh:
                    return None, None
                continue
            if response.will_close:
                self._close()
            return response.status, _retry_after(response.getheader("retry-after"))
        return None, None

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
            backoff = 2**attempt * random.uniform(1 - JITTER, 1 + JITTER)
            if retry_after is not None:
                backoff = retry_after
            last = attempt + 1 == MAX_ATTEMPTS
            if last or backoff > deadline - time.monotonic() or self.stopping.wait(backoff):
                return False
        return False

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self._close()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: the computed backoff serves
    return max(seconds, 0.0) if seconds == seconds and seconds != float("inf") else None
