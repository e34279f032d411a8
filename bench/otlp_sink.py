"""A minimal OTLP/HTTP endpoint for benchmarks: accepts every export, answers 200, counts.

It runs in its own process and does not decode protobuf, so receiving costs the
machine as little as possible; whether every span arrived is read from the services'
own counters (``otel_spans_exported_total`` and ``otel_spans_dropped_total``).

    python bench/otlp_sink.py --port 4318
"""

from __future__ import annotations

import argparse
import asyncio
import signal

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"


class Counts:
    requests = 0
    body_bytes = 0


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            Counts.requests += 1
            Counts.body_bytes += length
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve_connection, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening on {port}", flush=True)
    async with server:
        await stop.wait()
    print(f"received {Counts.requests} exports, {Counts.body_bytes} bytes", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
