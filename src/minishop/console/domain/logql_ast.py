"""The syntax tree of a LogQL-subset query: what the parser builds and the matchers read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MatchOp = Literal["=", "!=", "=~", "!~"]
LineOp = Literal["|=", "!=", "|~", "!~"]


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """One matcher of the stream selector, or a label filter of the pipeline."""

    name: str
    op: MatchOp
    value: str


@dataclass(frozen=True, slots=True)
class LineFilter:
    op: LineOp
    value: str


@dataclass(frozen=True, slots=True)
class LabelFilter:
    matcher: LabelMatcher


PipelineStage = LineFilter | LabelFilter


@dataclass(frozen=True, slots=True)
class LogQuery:
    selectors: tuple[LabelMatcher, ...]
    pipeline: tuple[PipelineStage, ...] = ()


class LogQueryError(ValueError):
    """An invalid query: ``position`` is the 0-based column where it goes wrong."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at column {position + 1})")
        self.message = message
        self.position = position
