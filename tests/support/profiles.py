"""Checks of a speedscope file, as ``GET /debug/pprof/profile`` answers it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

# The schema that ships with the viewer the console serves (copied from npm by ./dev).
SCHEMA_PATH = (
    Path(__file__).resolve().parents[2]
    / "src/minishop/console/adapters/web/static/vendor/speedscope/file-format-schema.json"
)


def speedscope_frames(document: Any) -> list[str]:
    """The frame names of a valid speedscope file; fails on anything the viewer would refuse.

    Beyond the JSON schema: every event names a frame that exists, times never go back,
    and each frame opened is closed, innermost first (an evented profile's contract).
    """
    assert SCHEMA_PATH.is_file(), f"{SCHEMA_PATH} is missing: run ./dev (it copies it from npm)"
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    errors = [str(error) for error in jsonschema_rs.validator_for(schema).iter_errors(document)]
    assert not errors, errors[:5]
    frames = document["shared"]["frames"]
    assert document["profiles"], "no profile in the file"
    for profile in document["profiles"]:
        assert profile["type"] == "evented", profile["type"]
        open_frames: list[int] = []
        last = profile["startValue"]
        for event in profile["events"]:
            assert 0 <= event["frame"] < len(frames), event
            assert event["at"] >= last, (event, last)
            last = event["at"]
            if event["type"] == "O":
                open_frames.append(event["frame"])
            else:
                assert open_frames and open_frames.pop() == event["frame"], event
        assert not open_frames, "frames left open"
        assert last <= profile["endValue"] + 1e-6
    return [frame["name"] for frame in frames]
