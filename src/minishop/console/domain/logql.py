"""The LogQL subset the console's log search takes (CONTRACT sections 4 and 8).

A query is a stream selector and a pipeline, as in Loki::

    {app="minishop", service="orders"} |= "payment failed" != "retry" | level="error"

- stream selector: ``{label op "value", ...}`` with ``=``, ``!=``, ``=~``, ``!~`` (at least
  one matcher);
- line filters on the message, chained: ``|=`` contains, ``!=`` does not contain (both
  case-sensitive), ``|~`` the regular expression matches somewhere, ``!~`` it does not;
- label filters: ``| name op "value"`` with the same four operators as the selector.

Strings are double-quoted with the escapes ``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\r``, or raw
between backticks (handy for regular expressions: ``|~ `\\d+```). Regular expressions are
Python's ``re`` (close to Loki's RE2 for everyday patterns), checked when the query is parsed;
``=~`` and ``!~`` match the whole value, as Loki anchors them. Parsers (``| json``,
``| logfmt``, ...), formatting stages and metric queries (``rate(...)``) are refused with a
clear :class:`LogQueryError`.

Labels and record fields (selector and label filters read the same names):

================================  ===================================================
label                             field of the record
================================  ===================================================
``app``                           resource ``service.namespace``, else attribute ``app``
``service``, ``service_name``     the service (resource ``service.name``)
``level``, ``severity_text``      the level, compared ignoring ASCII case (see below)
``trace_id``, ``span_id``         the ids, lower-case hex, ``""`` outside a span
``environment``,                  resource ``deployment.environment``, else
``deployment_environment``        ``deployment.environment.name``
any other ``name``                attribute ``name``, else attribute ``name`` with ``_``
                                  read as ``.``, else that dotted resource attribute
                                  (``service_version`` is ``service.version``)
================================  ===================================================

Labels and fields a record does not have are the empty string, as in Loki. Attribute values
that are not text compare as JSON writes them: ``true``, ``42``, ``2.5``, ``["a","b"]``.

Levels are stored lower case (``error``) while OpenTelemetry's ``severity_text`` is usually
upper case (``ERROR``): Loki is case-sensitive everywhere, but here ``level`` and
``severity_text`` ignore case (``=``/``!=`` compare with the value lower-cased, regexes get
``(?i)``), so ``| severity_text="ERROR"`` copied from a Grafana query finds the errors. Every
other comparison is case-sensitive.
"""

from __future__ import annotations

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
from minishop.console.domain.logql_match import matches, record_fields
from minishop.console.domain.logql_parser import parse_logql

__all__ = [
    "LabelFilter",
    "LabelMatcher",
    "LineFilter",
    "LineOp",
    "LogQuery",
    "LogQueryError",
    "MatchOp",
    "PipelineStage",
    "matches",
    "parse_logql",
    "record_fields",
]
