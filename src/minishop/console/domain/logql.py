"""The LogQL subset the console's log search takes (CONTRACT sections 4 and 8).

A query is a stream selector and a pipeline, as in Loki::

    {app="minishop", service="orders"} |= "payment failed" != "retry" | level="error"

- stream selector: ``{label op "value", ...}`` with ``=``, ``!=``, ``=~``, ``!~``;
- line filters, chained: ``|=`` contains, ``!=`` does not contain, ``|~`` matches the
  regular expression, ``!~`` does not;
- label filters on fields: ``| name op "value"`` (``trace_id``, ``level``, ``span_id``,
  ``service`` or any attribute of the record), with the same four operators.

Labels and fields a record does not have are the empty string, as in Loki.
"""

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
