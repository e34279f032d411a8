"""uvicorn's httptools protocol with the limits it lacks: header size, header count, header time.

uvicorn with httptools accepts a request line and headers of any size (httptools
buffers a header value whole before handing it over) and waits for them forever:
a connection that sends nothing, or one byte a second, is held open indefinitely.
This subclass closes those holes at the protocol level, before anything reaches the
application:

- the bytes received while a request's headers are incomplete are counted as they
  arrive; past ``max_header_bytes`` the request is answered 431 and the connection
  closed, so no more than one socket read (at most 256 KiB) beyond the limit is
  ever buffered;
- the request line and headers of a complete header block are counted exactly, and
  more than ``max_header_count`` headers is a 431 as well;
- a connection must deliver a request's headers within ``header_timeout_seconds``
  of opening (or of the first byte of the next request on a kept-alive connection),
  else it is answered 408 and closed (closed quietly when not one byte came). Idle
  kept-alive connections stay bounded by uvicorn's own ``timeout_keep_alive``.

Refusals are ``application/problem+json`` like every other error of the shop. The
class is made per configuration by :func:`limited_protocol`, because uvicorn builds
its protocol from ``(config, server_state, app_state)`` only.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Each header line costs its name, its value, ": " and CRLF on the wire.
HEADER_LINE_OVERHEAD = 4


TOO_MANY_HEADERS = "The request has more headers than this service accepts ({limit})."
TOO_LARGE = "The request line and headers are larger than this service accepts ({limit} bytes)."
TOO_SLOW = "The request's headers did not arrive within {seconds:g} seconds."


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused before it reaches the application."""

    status: int
    title: str
    type: str
    detail: str

    def response(self) -> bytes:
        """A complete HTTP/1.1 problem response that also tells the client the connection ends."""
        body = json.dumps(
            {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail},
            separators=(",", ":"),
        ).encode()
        head = (
            f"HTTP/1.1 {self.status} {self.title}\r\n"
            "content-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        return head.encode("ascii") + body


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request that broke a limit."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """See the module docstring; the limits are class attributes set by ``limited_protocol``."""

    max_header_bytes: ClassVar[int] = 16_384
    max_header_count: ClassVar[int] = 100
    header_timeout_seconds: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True
        self._bytes_while_awaiting = 0
        self._header_bytes = 0
        self._header_count = 0
        # When the current request's headers began (None: not waiting for any yet).
        self._headers_since: float | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: Refusal | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # One timer per connection, re-armed as it fires, instead of one per request:
        # the clock starts at the opening, so a connection that sends nothing is bounded too.
        self._headers_since = self.loop.time()
        self._header_timer = self.loop.call_at(
            self._headers_since + self.header_timeout_seconds, self._check_header_time
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._bytes_while_awaiting += len(data)
            if self._headers_since is None:  # the first byte of the next request
                self._headers_since = self.loop.time()
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
                return
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
            return
        if self._awaiting_headers and self._bytes_while_awaiting > self.max_header_bytes:
            self._refuse(self._too_large())

    # Parser callbacks: count, then let uvicorn do its usual work.
    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + HEADER_LINE_OVERHEAD
        if self._header_count > self.max_header_count:
            self._refusal = Refusal(
                431,
                "Request Header Fields Too Large",
                "too-many-headers",
                TOO_MANY_HEADERS.format(limit=self.max_header_count),
            )
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._header_bytes > self.max_header_bytes:
            self._refusal = self._too_large()
            raise _Refused
        self._awaiting_headers = False
        self._headers_since = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True
        self._headers_since = None  # idle until the next request: uvicorn's keep-alive timeout
        self._bytes_while_awaiting = 0
        self._header_bytes = 0
        self._header_count = 0

    # Refusals
    def _too_large(self) -> Refusal:
        return Refusal(
            431,
            "Request Header Fields Too Large",
            "headers-too-large",
            TOO_LARGE.format(limit=self.max_header_bytes),
        )

    def _refuse(self, refusal: Refusal) -> None:
        """Answer ``refusal`` and close, unless a response is still being written (then close).

        Logged like uvicorn's own "Invalid HTTP request" (a warning on ``uvicorn.error``,
        which the shop's logging turns into a JSON line): the application never saw it.
        """
        self._cancel_header_timer()
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
        self.logger.warning("request refused: %d %s from %s", refusal.status, refusal.type, client)
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(refusal.response())
        self.transport.close()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _check_header_time(self) -> None:
        """Refuse headers that are late; otherwise check again when they could be."""
        self._header_timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        since = self._headers_since
        # While a response is still being written, a pipelined request waits its turn.
        responding = self.cycle is not None and not self.cycle.response_complete
        if since is None or responding:
            next_check = now + self.header_timeout_seconds
        elif now - since < self.header_timeout_seconds:
            next_check = since + self.header_timeout_seconds
        elif self._bytes_while_awaiting == 0:
            # Nothing of a request arrived: close quietly, as an idle keep-alive is closed,
            # so a client opening a connection at that moment never reads a stray 408.
            self.transport.close()
            return
        else:
            self._refuse(
                Refusal(
                    408,
                    "Request Timeout",
                    "request-timeout",
                    TOO_SLOW.format(seconds=self.header_timeout_seconds),
                )
            )
            return
        self._header_timer = self.loop.call_at(next_check, self._check_header_time)


def limited_protocol(
    max_header_bytes: int, max_header_count: int, header_timeout_seconds: float
) -> type[LimitedHttpToolsProtocol]:
    """A protocol class for uvicorn's ``http=`` with these limits."""
    return type(
        "LimitedHttpToolsProtocol",
        (LimitedHttpToolsProtocol,),
        {
            "max_header_bytes": max_header_bytes,
            "max_header_count": max_header_count,
            "header_timeout_seconds": header_timeout_seconds,
        },
    )
