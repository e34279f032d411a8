"""Received messages as JSON lines in a file, so a restart loses none of them."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import orjson

from minishop.slack_receiver.domain.model import Attachment, SlackMessage


def _encode(message: SlackMessage) -> bytes:
    return orjson.dumps(asdict(message)) + b"\n"


def _decode(line: bytes) -> SlackMessage:
    raw = orjson.loads(line)
    raw["received_at"] = datetime.fromisoformat(raw["received_at"])
    raw["attachments"] = tuple(Attachment(**item) for item in raw.get("attachments", ()))
    return SlackMessage(**raw)


class JsonLinesMessageLog:
    """Append-only file, compacted to the newest ``keep`` lines once it holds twice as many."""

    def __init__(self, path: Path, keep: int) -> None:
        self._path = path
        self._keep = keep
        self._lines = 0
        self._lock = asyncio.Lock()

    async def append(self, message: SlackMessage) -> None:
        async with self._lock:
            await asyncio.to_thread(self._append, _encode(message))

    def _append(self, line: bytes) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("ab") as file:
            file.write(line)
        self._lines += 1
        if self._lines >= 2 * self._keep:
            self._compact()

    def _compact(self) -> None:
        newest = self._read_tail(self._keep)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_bytes(b"".join(newest))
        temporary.replace(self._path)  # atomic: a crash leaves the old file or the new one
        self._lines = len(newest)

    def _read_tail(self, limit: int) -> list[bytes]:
        if not self._path.exists():
            return []
        with self._path.open("rb") as file:
            tail = deque((line for line in file if line.strip()), maxlen=limit)
        return list(tail)

    def _end_cut_line(self) -> None:
        """A crash mid-write leaves a line without its newline; the next one must not join it."""
        if not self._path.exists() or self._path.stat().st_size == 0:
            return
        with self._path.open("rb+") as file:
            file.seek(-1, 2)
            if file.read(1) != b"\n":
                file.write(b"\n")

    async def load_recent(self, limit: int) -> list[SlackMessage]:
        async with self._lock:
            await asyncio.to_thread(self._end_cut_line)
            lines = await asyncio.to_thread(self._read_tail, 2 * limit)
        self._lines = len(lines)
        messages = []
        for line in lines:
            try:
                messages.append(_decode(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a line cut short by a crash: the others still count
        return messages[-limit:]
