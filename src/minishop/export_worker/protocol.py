"""The two pipes between a service and its exporter process: framing, both directions.

Service to worker (the worker's stdin): frames of ``<length u32><kind u8>`` and a
``marshal`` payload, a list of flattened spans (``wire``'s layout). marshal is the
cheapest serialiser the standard library has for plain values, and both ends are the
same interpreter, which is all it asks for.

Worker to service (the worker's stdout): fixed ``<kind u8><count u32>`` reports of what
became of the spans handed over: sent (the collector accepted them), failed (it refused
them or stayed unreachable through the retries), or dropped for a full worker queue.
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False  # typing (and the re it imports) is not worth a worker's memory
if TYPE_CHECKING:
    from typing import BinaryIO

FRAME = struct.Struct("<IB")
SPANS = 1

REPORT = struct.Struct("<BI")
SENT, FAILED, QUEUE_FULL = 0, 1, 2


class ProtocolError(Exception):
    """The other end wrote something that is not a frame of this protocol."""


def frame_header(kind: int, length: int) -> bytes:
    return FRAME.pack(length, kind)


def read_exact(stream: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes, or None at the end of the stream (a frame cut short is an end too)."""
    data = stream.read(size)
    if not data or len(data) < size:
        return None
    return data


def read_frame(stream: BinaryIO, max_length: int) -> tuple[int, bytes] | None:
    header = read_exact(stream, FRAME.size)
    if header is None:
        return None
    length, kind = FRAME.unpack(header)
    if length > max_length:
        raise ProtocolError(f"frame of {length} bytes, more than the {max_length} allowed")
    payload = read_exact(stream, length)
    return None if payload is None else (kind, payload)


def read_report(stream: BinaryIO) -> tuple[int, int] | None:
    data = read_exact(stream, REPORT.size)
    return None if data is None else REPORT.unpack(data)
