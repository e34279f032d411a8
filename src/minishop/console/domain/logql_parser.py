"""Text to :class:`LogQuery`: a hand-written tokenizer and recursive-descent parser.

Hand-written rather than generated so that every error names what was expected, in words a
person understands, at the column where the query goes wrong. The tokenizer is lazy: the
parser asks for one token at a time, so the first mistake from the left is the one reported
(``rate({app="x"}[5m])`` says "metric queries are unsupported", not "unexpected '['").

Grammar (whitespace allowed between any two tokens)::

    query      = selector { stage }
    selector   = "{" matcher { "," matcher } "}"
    matcher    = NAME ( "=" | "!=" | "=~" | "!~" ) STRING
    stage      = ( "|=" | "!=" | "|~" | "!~" ) STRING      -- line filter
               | "|" matcher                                -- label filter
    NAME       = [a-zA-Z_][a-zA-Z0-9_]*
    STRING     = '"' with Go escapes '"'  |  '`' raw, no escapes '`'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from minishop.console.domain.logql_ast import (
    LabelFilter,
    LabelMatcher,
    LineFilter,
    LineOp,
    LogQuery,
    LogQueryError,
    MatchOp,
    PipelineStage,
)
from minishop.console.domain.logql_match import anchored_pattern, compile_pattern

TokenKind = Literal["name", "string", "op", "punct", "end"]

_MATCH_OPS: tuple[str, ...] = ("=", "!=", "=~", "!~")
_LINE_OPS: tuple[str, ...] = ("|=", "!=", "|~", "!~")
_KNOWN_OPS = frozenset((*_MATCH_OPS, *_LINE_OPS, "|"))
_OP_CHARS = frozenset("=!~|<>")
_PUNCT = frozenset("{},()[]")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}
_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_WHITESPACE = frozenset(" \t\r\n\f\v")

UNSUPPORTED = "unsupported: json/logfmt parsers, metric queries"
# Loki pipeline stages that parse or reshape lines: not part of this subset.
_UNSUPPORTED_STAGES = frozenset(
    {
        "json",
        "logfmt",
        "regexp",
        "pattern",
        "unpack",
        "line_format",
        "label_format",
        "drop",
        "keep",
        "decolorize",
        "unwrap",
    }
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the value: decoded for a string, the characters otherwise
    position: int


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the query"
    if token.kind == "string":
        return f'a string "{token.text}"' if len(token.text) <= 20 else "a string"
    return f"'{token.text}'"


class _Lexer:
    """Reads tokens one at a time, on demand, from left to right."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._at = 0

    def next(self) -> Token:
        text, at = self._text, self._at
        while at < len(text) and text[at] in _WHITESPACE:
            at += 1
        if at >= len(text):
            self._at = at
            return Token("end", "", at)
        char = text[at]
        if char in _PUNCT:
            self._at = at + 1
            return Token("punct", char, at)
        if char in _OP_CHARS:
            end = at
            while end < len(text) and text[end] in _OP_CHARS:
                end += 1
            self._at = end
            return Token("op", text[at:end], at)
        if char == '"':
            return self._quoted(at)
        if char == "`":
            end = text.find("`", at + 1)
            if end < 0:
                raise LogQueryError("unterminated string", at)
            self._at = end + 1
            return Token("string", text[at + 1 : end], at)
        name = _NAME.match(text, at)
        if name:
            self._at = name.end()
            return Token("name", name.group(), at)
        raise LogQueryError(f"unexpected character {char!r}", at)

    def _quoted(self, start: int) -> Token:
        text, at, parts = self._text, start + 1, []
        while at < len(text):
            char = text[at]
            if char == '"':
                self._at = at + 1
                return Token("string", "".join(parts), start)
            if char == "\\":
                if at + 1 >= len(text):
                    break
                escaped = _ESCAPES.get(text[at + 1])
                if escaped is None:
                    raise LogQueryError(
                        f"unknown escape '\\{text[at + 1]}' in a string: write '\\\\' for a "
                        "backslash, or use a `raw string`",
                        at,
                    )
                parts.append(escaped)
                at += 2
                continue
            parts.append(char)
            at += 1
        raise LogQueryError("unterminated string", start)


class _Parser:
    def __init__(self, text: str) -> None:
        self._lexer = _Lexer(text)
        self._token = self._lexer.next()

    def _advance(self) -> Token:
        token = self._token
        self._token = self._lexer.next()
        return token

    def query(self) -> LogQuery:
        first = self._token
        if first.kind == "end":
            raise LogQueryError("empty query", first.position)
        if first.kind == "name":
            self._advance()
            if self._token.text == "(" or first.text in {"sum", "avg", "min", "max", "count"}:
                raise LogQueryError(f"{UNSUPPORTED} ('{first.text}')", first.position)
        if first.text != "{":
            raise LogQueryError(
                'a query starts with a stream selector such as {app="minishop"}',
                first.position,
            )
        selectors = self._selector()
        pipeline: list[PipelineStage] = []
        while self._token.kind != "end":
            pipeline.append(self._stage())
        return LogQuery(tuple(selectors), tuple(pipeline))

    def _selector(self) -> list[LabelMatcher]:
        opening = self._advance()
        if self._token.text == "}" and self._token.kind == "punct":
            raise LogQueryError("a stream selector needs at least one matcher", opening.position)
        matchers = [self._matcher("a label name")]
        while True:
            token = self._token
            if token.kind == "punct" and token.text == "}":
                self._advance()
                return matchers
            if token.kind == "punct" and token.text == ",":
                self._advance()
                matchers.append(self._matcher("a label name after ','"))
                continue
            self._check_operator(token)
            raise LogQueryError("expected '}' to close the stream selector", token.position)

    def _matcher(self, expected_name: str) -> LabelMatcher:
        name = self._token
        if name.kind != "name":
            self._check_operator(name)
            raise LogQueryError(f"expected {expected_name}, found {_describe(name)}", name.position)
        self._advance()
        op = self._token
        self._check_operator(op)
        if op.kind != "op" or op.text not in _MATCH_OPS:
            raise LogQueryError(
                f"expected an operator (=, !=, =~ or !~) after '{name.text}', "
                f"found {_describe(op)}",
                op.position,
            )
        self._advance()
        value = self._string(f"after '{name.text}{op.text}'")
        if op.text in ("=~", "!~"):
            _validate_regex(value.text, value.position)  # positions in its own terms first
            _validate_regex(anchored_pattern(value.text), value.position)
        return LabelMatcher(name.text, cast(MatchOp, op.text), value.text)

    def _stage(self) -> PipelineStage:
        token = self._token
        self._check_operator(token)
        if token.kind == "op" and token.text in _LINE_OPS:
            self._advance()
            value = self._string(f"after '{token.text}'")
            if token.text in ("|~", "!~"):
                _validate_regex(value.text, value.position)
            return LineFilter(cast(LineOp, token.text), value.text)
        if token.kind == "op" and token.text == "|":
            self._advance()
            name = self._token
            if name.kind == "name" and name.text in _UNSUPPORTED_STAGES:
                raise LogQueryError(f"{UNSUPPORTED} ('{name.text}')", name.position)
            return LabelFilter(self._matcher("a label name after '|'"))
        if token.kind == "punct" and token.text == "[":
            raise LogQueryError(f"{UNSUPPORTED} (a range such as [5m])", token.position)
        raise LogQueryError(
            f"did not expect {_describe(token)} here: after the stream selector come line filters "
            '(|= "text", != "text", |~ "regex", !~ "regex") or label filters '
            '(| name="value")',
            token.position,
        )

    def _string(self, where: str) -> Token:
        token = self._token
        if token.kind != "string":
            self._check_operator(token)
            raise LogQueryError(
                f"expected a quoted string {where}, found {_describe(token)}", token.position
            )
        return self._advance()

    @staticmethod
    def _check_operator(token: Token) -> None:
        if token.kind == "op" and token.text not in _KNOWN_OPS:
            raise LogQueryError(f"unknown operator '{token.text}'", token.position)


def _validate_regex(pattern: str, position: int) -> None:
    try:
        compile_pattern(pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as error:
        raise LogQueryError(f"invalid regular expression: {error}", position) from None


def parse_logql(text: str) -> LogQuery:
    """Parse one query of the subset; raises :class:`LogQueryError` saying what and where."""
    return _Parser(text).query()
