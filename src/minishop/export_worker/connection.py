"""One kept-alive HTTP/1.1 connection that POSTs a body and reads the whole answer.

The exporter process needs one request shape (POST with a Content-Length) and three things
from the answer (status, headers, body); ``http.client`` brings ``email.parser`` and, through
it and ``ssl``, ~8 MB of resident memory into every exporter process for that. This speaks
the protocol directly on ``_socket`` (the C module ``socket`` wraps: the wrapper's ``enum``
and ``selectors`` cost a process ~0.7 MB more) and imports ``ssl`` only for an https
collector. Every read and write of one request shares one deadline, so a collector that
answers a byte at a time cannot hold a request past its timeout.
"""

from __future__ import annotations

import _socket
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ssl import SSLContext

MAX_HEAD = 64 * 1024  # status line and headers of one response
MAX_BODY = 4 * 1024 * 1024  # a collector's answer is a small protobuf; more is not one
_READ = 64 * 1024


class ResponseError(Exception):
    """The peer's answer is not an HTTP/1.x response this client can read."""


class Response:
    """A whole response: ``headers`` keys are lower case (a repeated header keeps its last)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, will_close: bool):
        self.status = status
        self.headers = headers
        self.body = body
        self.will_close = will_close


class Connection:
    """POSTs to one host over one connection, opened on first use and kept alive after.

    Not thread-safe: the exporter process has a single sender thread. After any exception
    the connection is closed; the next ``post`` opens a new one.
    """

    def __init__(
        self, host: str, port: int, *, tls: SSLContext | None = None, server_hostname: str = ""
    ) -> None:
        self.host = host
        self.port = port
        self._tls = tls
        self._server_hostname = server_hostname or host
        self._sock: _socket.socket | None = None
        self._buffer = bytearray()
        self._deadline = 0.0
        self.connects = 0  # connections opened so far: keep-alive shows as requests > connects

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def post(self, target: str, head: bytes, body: bytes, timeout: float) -> Response:
        """Sends ``POST target`` with the header lines in ``head`` (each ending in CRLF, no
        Content-Length: it is written here) and returns the answer, all within ``timeout``.

        Raises OSError (``TimeoutError``, ``ConnectionError``, a refused connection) or
        ResponseError; either way the connection is closed.
        """
        self._deadline = time.monotonic() + timeout
        try:
            if self._sock is None:
                self._open()
            request = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (
                target.encode("ascii"),
                head,
                len(body),
            )
            self._send(request + body if len(body) < 16384 else request)
            if len(body) >= 16384:
                self._send(body)
            response = self._read_response()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._buffer.clear()
        if sock is not None:
            sock.close()

    # Connecting.

    def _remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def _open(self) -> None:
        """Tries every address the name resolves to, in order, as socket.create_connection."""
        error: OSError | None = None
        for family, kind, proto, _name, address in _socket.getaddrinfo(
            self.host, self.port, 0, _socket.SOCK_STREAM
        ):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._remaining())
                sock.connect(address)
            except OSError as failure:
                sock.close()
                error = failure
                continue
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            self._sock = self._wrap(sock) if self._tls is not None else sock
            self.connects += 1
            return
        raise error or OSError(f"{self.host!r} resolved to no address")

    def _wrap(self, raw: _socket.socket) -> _socket.socket:
        import socket  # ssl imports it anyway: an https collector pays for both

        sock = socket.socket(raw.family, raw.type, raw.proto, fileno=raw.detach())
        assert self._tls is not None
        sock.settimeout(self._remaining())
        return self._tls.wrap_socket(sock, server_hostname=self._server_hostname)

    # Sending and receiving, each step within the request's deadline.

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        self._sock.settimeout(self._remaining())
        self._sock.sendall(data)

    def _fill(self) -> None:
        """Reads what the peer has sent next into the buffer; its end is an error here."""
        assert self._sock is not None
        self._sock.settimeout(self._remaining())
        data = self._sock.recv(_READ)
        if not data:
            raise ConnectionError("the collector closed the connection before answering whole")
        self._buffer += data

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        start = 0
        while (end := self._buffer.find(marker, start)) < 0:
            if len(self._buffer) > limit:
                raise ResponseError(f"no {marker!r} within {limit} bytes of the answer")
            start = max(0, len(self._buffer) - len(marker) + 1)
            self._fill()
        line = bytes(self._buffer[:end])
        del self._buffer[: end + len(marker)]
        return line

    def _read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _read_to_close(self) -> bytes:
        assert self._sock is not None
        while True:
            self._sock.settimeout(self._remaining())
            data = self._sock.recv(_READ)
            if not data:
                break
            self._buffer += data
            if len(self._buffer) > MAX_BODY:
                raise ResponseError(f"an answer of more than {MAX_BODY} bytes")
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    # The response.

    def _read_response(self) -> Response:
        while True:  # interim 1xx answers (100 Continue, 103 Early Hints) come first
            status, version, headers = self._read_head()
            if not 100 <= status < 200 or status == 101:
                break
        close = headers.get("connection", "").lower()
        will_close = "close" in close or (version == "HTTP/1.0" and "keep-alive" not in close)
        if status in (204, 304) or 100 <= status < 200:
            return Response(status, headers, b"", will_close)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return Response(status, headers, self._read_chunked(), will_close)
        length = headers.get("content-length")
        if length is None:
            return Response(status, headers, self._read_to_close(), True)
        if not length.strip().isdigit() or int(length) > MAX_BODY:
            raise ResponseError(f"Content-Length {length!r} is not one this client reads")
        return Response(status, headers, self._read_exact(int(length)), will_close)

    def _read_head(self) -> tuple[int, str, dict[str, str]]:
        head = self._read_until(b"\r\n\r\n", MAX_HEAD).decode("latin-1")
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit() or rest[3:4] not in ("", " "):
            raise ResponseError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        headers = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise ResponseError(f"malformed header line: {line[:80]!r}")
            headers[name.lower()] = value.strip()
        return int(code), version, headers

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self._read_until(b"\r\n", 1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ResponseError(f"bad chunk size {size_line[:40]!r}") from None
            if size < 0:
                raise ResponseError(f"bad chunk size {size_line[:40]!r}")
            if size == 0:
                break
            if len(body) + size > MAX_BODY:
                raise ResponseError(f"an answer of more than {MAX_BODY} bytes")
            body += self._read_exact(size)
            if self._read_exact(2) != b"\r\n":
                raise ResponseError("a chunk does not end with CRLF")
        while self._read_until(b"\r\n", MAX_HEAD):  # trailer fields, up to the empty line
            pass
        return bytes(body)
