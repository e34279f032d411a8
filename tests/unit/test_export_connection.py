"""The exporter process's own HTTP/1.1 client, against a scripted local server: what it
sends, what it reads back, keep-alive, Retry-After, refused and silent collectors."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from minishop.export_worker.connection import Connection, ResponseError
from minishop.export_worker.sender import Endpoint, Sender, SenderConfig, _headers, unquote

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 2\r\n\r\nok"

Answer = Callable[[socket.socket, int], bytes | None]  # (client, request number) -> reply


class ScriptedServer:
    """Accepts connections; answers request n with ``answers[n]`` (bytes, or a callable
    that may write itself and return None); records (connection number, head, body)."""

    def __init__(self, answers: list[bytes | Answer]) -> None:
        self.answers = answers
        self.requests: list[tuple[int, bytes, bytes]] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(
                target=self._serve, args=(client, self.connections), daemon=True
            )
            thread.start()

    def _serve(self, client: socket.socket, number: int) -> None:
        buffer = b""
        with client:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += client.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                index = len(self.requests)
                self.requests.append((number, head, body))
                answer = self.answers[min(index, len(self.answers) - 1)]
                reply = answer(client, index) if callable(answer) else answer
                if reply is None:
                    return
                client.sendall(reply)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(*answers: bytes | Answer) -> ScriptedServer:
        servers.append(ScriptedServer(list(answers)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _sender(endpoint: str, timeout: float = 2.0, **options: str) -> Sender:
    return Sender(SenderConfig(endpoint, timeout=timeout, **options))  # type: ignore[arg-type]


def _head_lines(head: bytes) -> dict[bytes, bytes]:
    lines = head.split(b"\r\n")[1:]
    return {n.lower(): v.strip() for n, _, v in (line.partition(b":") for line in lines)}


def test_a_post_sends_its_body_and_reads_status_headers_and_body(serve) -> None:
    server = serve(OK)
    connection = Connection("127.0.0.1", server.port)
    response = connection.post("/v1/traces", b"X-Test: yes\r\n", b"payload", 2.0)
    assert (response.status, response.body, response.will_close) == (200, b"ok", False)
    assert response.headers["content-type"] == "application/x-protobuf"
    ((_, head, body),) = server.requests
    assert head.startswith(b"POST /v1/traces HTTP/1.1\r\n")
    assert _head_lines(head)[b"content-length"] == b"7" and body == b"payload"


def test_keep_alive_reuses_one_connection(serve) -> None:
    server = serve(OK)
    sender = _sender(server.endpoint)
    assert all(sender.post(b"x" * size) for size in (10, 100_000, 10))
    assert [number for number, _, _ in server.requests] == [1, 1, 1]
    assert _head_lines(server.requests[0][1])[b"host"] == f"127.0.0.1:{server.port}".encode()


def test_connection_close_and_chunked_answers(serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server = serve(chunked, closing, OK)
    connection = Connection("127.0.0.1", server.port)
    assert connection.post("/", b"", b"", 2.0).body == b"abcde"
    assert connection.post("/", b"", b"", 2.0).will_close and not connection.is_open
    assert connection.post("/", b"", b"", 2.0).status == 200
    assert [number for number, _, _ in server.requests] == [1, 1, 2]


def test_a_malformed_answer_is_an_error_and_closes(serve) -> None:
    server = serve(b"SMTP ready\r\n\r\n")
    connection = Connection("127.0.0.1", server.port)
    with pytest.raises(ResponseError, match="status line"):
        connection.post("/", b"", b"", 2.0)
    assert not connection.is_open


def test_retry_after_is_waited_then_the_export_goes_through(serve) -> None:
    busy = b"HTTP/1.1 503 Busy\r\nRetry-After: 0.3\r\nContent-Length: 0\r\n\r\n"
    server = serve(busy, OK)
    started = time.monotonic()
    assert _sender(server.endpoint).post(b"spans")
    assert time.monotonic() - started >= 0.3
    assert len(server.requests) == 2


def test_a_refused_status_is_not_retried(serve) -> None:
    server = serve(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")
    assert not _sender(server.endpoint).post(b"spans")
    assert len(server.requests) == 1


def test_a_kept_alive_connection_the_collector_closed_is_retried_at_once(serve) -> None:
    def answer_then_hang_up(client: socket.socket, _index: int) -> None:
        client.sendall(OK)
        client.shutdown(socket.SHUT_RDWR)
        return None

    server = serve(answer_then_hang_up)
    sender = _sender(server.endpoint)
    assert sender.post(b"one")
    time.sleep(0.05)
    started = time.monotonic()
    assert sender.post(b"two")
    assert time.monotonic() - started < 0.5  # no backoff: the stale connection was replaced
    assert [number for number, _, _ in server.requests] == [1, 2]


def test_a_refused_connection_fails_within_the_timeout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    connection = Connection("127.0.0.1", port)
    with pytest.raises(ConnectionRefusedError):
        connection.post("/", b"", b"", 1.0)
    started = time.monotonic()
    assert not _sender(f"http://127.0.0.1:{port}", timeout=0.5).post(b"spans")
    assert time.monotonic() - started < 0.6


def test_a_silent_or_dribbling_collector_times_out_on_the_deadline(serve) -> None:
    def dribble(client: socket.socket, _index: int) -> None:
        try:
            for byte in b"HTTP/1.1 200 OK\r\n":
                client.sendall(bytes((byte,)))
                time.sleep(0.05)
        except OSError:
            pass  # the client gave up on its deadline, as it should
        return None

    for answer in (lambda _client, _index: time.sleep(2), dribble):
        server = serve(answer)
        connection = Connection("127.0.0.1", server.port)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            connection.post("/", b"", b"", 0.3)
        assert 0.3 <= time.monotonic() - started < 0.6
        assert not connection.is_open


def test_gzip_is_applied_only_when_asked(serve) -> None:
    server = serve(OK)
    assert _sender(server.endpoint, compression="gzip").post(b"spans" * 100)
    assert _sender(server.endpoint).post(b"plain")
    (_, zipped_head, zipped), (_, plain_head, plain) = server.requests
    assert _head_lines(zipped_head)[b"content-encoding"] == b"gzip"
    assert gzip.decompress(zipped) == b"spans" * 100
    assert b"content-encoding" not in _head_lines(plain_head) and plain == b"plain"


def test_endpoints_and_headers_are_read_as_the_sdk_reads_them() -> None:
    ipv6 = Endpoint("http://[::1]:4318/v1/traces?x=1#frag")
    assert (ipv6.host, ipv6.port, ipv6.target, ipv6.host_header) == (
        "::1",
        4318,
        "/v1/traces?x=1",
        "[::1]:4318",
    )
    plain = Endpoint("https://collector.example")
    assert (plain.port, plain.target, plain.host_header) == (443, "/", "collector.example")
    for bad in ("ftp://x/", "http://", "http://host:99999/", "http://host:x/", "host:4318"):
        with pytest.raises(ValueError, match="http"):
            Endpoint(bad)
    assert unquote("a%20b%zz%e2%9c%93") == "a b%zz\u2713"
    raw = "Api-Key=se%3Dcret, bad, x-line=a%0Ab ,empty="
    assert _headers(raw) == {"api-key": "se=cret", "empty": ""}


def test_the_worker_imports_no_heavy_standard_library_module() -> None:
    """What ``python -S -m minishop.export_worker`` loads: none of the modules this client
    replaced (ssl and http.client alone were ~7 MB a process)."""
    source = Path(__file__).resolve().parents[2] / "src"
    probe = "import sys, minishop.export_worker.worker; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(result.stdout.split())
    heavy = {"ssl", "http", "email", "argparse", "shutil", "typing", "urllib", "random", "enum"}
    assert "minishop.export_worker.connection" in loaded
    assert loaded.isdisjoint(heavy), sorted(loaded & heavy)
