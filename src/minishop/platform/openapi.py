"""The problem answers of every operation, written into each service's OpenAPI document.

Routes declare their success model; everything that can go wrong is the same across
services (a validation error, a body too large, the database gone) and is added here
by rule, once, instead of by hand on every route. A client (or a fuzzer) reading the
document then knows every status an operation answers and that errors are
``application/problem+json`` documents of one shape.

The server's own limits (431 for headers too large or too many, 408 for headers that
never finish: ``platform/http_protocol.py``) hold for every operation and are rules
here too. A route adds its own statuses with :func:`problem_responses` in its
decorator's ``responses=``; :func:`declare_problems` adds a rule to a built app.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from minishop.platform.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "description": "An error as RFC 9457 describes it; some types add their own members.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A stable slug naming the kind of error."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong, for a person to read."},
        "instance": {"type": "string", "description": "The path that was requested."},
        "errors": {
            "type": "array",
            "description": "Each invalid field of a validation error.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "The request is malformed (e.g. an invalid Idempotency-Key).",
    401: "No credential, or one that is not accepted.",
    403: "The credential is valid but does not allow this.",
    404: "Nothing exists at this path or with this id.",
    408: "The request's headers or body did not arrive in time.",
    409: "Conflicts with the current state, or the same Idempotency-Key is still running.",
    413: "The request body is larger than the service accepts.",
    422: "The request is well-formed but its content is invalid.",
    429: "Too many requests; retry after the Retry-After header.",
    431: "The request's headers are too large or too many.",
    500: "An unexpected failure; it has been logged.",
    502: "An upstream service answered something unusable.",
    503: "A dependency (database or service) is unavailable; retry after Retry-After.",
    504: "An upstream service did not answer in time.",
}

SERVER_LIMIT_STATUSES = (408, 431)
"""What the server answers before any route: headers too slow, too large or too many."""
BODY_STATUSES = (400, 408, 413)
"""What any operation with a request body may answer while the body is read: not
readable (e.g. not UTF-8), not arrived in time, too large."""
IDEMPOTENCY_STATUSES = (400, 409, 422)
"""An invalid key, the same key still running, the same key with a different body."""

Operation = Mapping[str, Any]


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response object: a problem document with ``status``."""
    return {
        "description": description or DESCRIPTIONS.get(status, "An error, as a problem document."),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For a route decorator's ``responses=``: the route-specific problems (404, 409, ...)."""
    return {status: problem_response(status) for status in statuses}


@dataclass(frozen=True)
class ResponseRule:
    """Statuses that every operation matching the rule may answer (problems by default).

    ``prefixes`` match the path; ``methods`` (upper case) the method, all when empty;
    ``applies`` looks at the OpenAPI operation itself (e.g. "has a request body").
    ``media_type`` is the problem type unless the answer is something else (a health
    document, a declined payment).
    """

    statuses: tuple[int, ...]
    prefixes: tuple[str, ...] = ("/",)
    methods: frozenset[str] = frozenset()
    applies: Callable[[Operation], bool] | None = None
    media_type: str = PROBLEM_MEDIA_TYPE
    schema: Mapping[str, Any] | None = None
    description: str | None = None

    def matches(self, path: str, method: str, operation: Operation) -> bool:
        if not any(_under(path, prefix) for prefix in self.prefixes):
            return False
        if self.methods and method.upper() not in self.methods:
            return False
        return self.applies is None or self.applies(operation)

    def response(self, status: int) -> dict[str, Any]:
        if self.media_type == PROBLEM_MEDIA_TYPE and self.schema is None:
            return problem_response(status, self.description)
        return {
            "description": self.description or DESCRIPTIONS.get(status, "See the body."),
            "content": {self.media_type: {"schema": dict(self.schema or {})}},
        }


def _under(path: str, prefix: str) -> bool:
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def has_body(operation: Operation) -> bool:
    return "requestBody" in operation


def has_input(operation: Operation) -> bool:
    return has_body(operation) or bool(operation.get("parameters"))


def takes_idempotency_key(operation: Operation) -> bool:
    return any(
        parameter.get("in") == "header" and parameter.get("name", "").lower() == "idempotency-key"
        for parameter in operation.get("parameters", ())
    )


def default_rules(*, has_database: bool) -> list[ResponseRule]:
    """The problems every service answers, by what its operations take and own."""
    rules = [
        ResponseRule((500,)),
        ResponseRule(SERVER_LIMIT_STATUSES),
        ResponseRule((422,), applies=has_input),
        ResponseRule(BODY_STATUSES, applies=has_body),
        ResponseRule(IDEMPOTENCY_STATUSES, applies=takes_idempotency_key),
        ResponseRule(
            (503,),
            prefixes=("/health/ready",),
            media_type="application/json",
            description="Not ready: the body names the check that failed.",
        ),
    ]
    if has_database:
        rules.append(ResponseRule((503,), prefixes=("/api", "/internal", "/admin")))
    return rules


def install_problem_documentation(app: FastAPI, rules: Iterable[ResponseRule]) -> None:
    """Make ``app.openapi()`` document the problems ``rules`` (and later declarations) name."""
    app.state.problem_rules = list(rules)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        with warnings.catch_warnings():
            # Fixed just below: a route serving several methods (the gateway's) gets one id.
            warnings.filterwarnings("ignore", DUPLICATE_OPERATION_ID, UserWarning)
            schema = generate()
        make_operation_ids_unique(schema)
        document_problems(schema, app.state.problem_rules)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


DUPLICATE_OPERATION_ID = "Duplicate Operation ID"
_METHOD_SUFFIX = re.compile(r"_(get|put|post|delete|options|head|patch|trace)$")


def make_operation_ids_unique(schema: dict[str, Any]) -> None:
    """Give each operation of a several-method route its own ``operationId``.

    FastAPI names an operation after its route and the route's first method, so the
    five methods of one gateway route would share one id, which client generators and
    tools that address operations by id refuse. Each shared id gets its own method.
    """
    operations = [
        (method, operation)
        for item in schema.get("paths", {}).values()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    seen = Counter(operation["operationId"] for _, operation in operations)
    for method, operation in operations:
        if seen[operation["operationId"]] > 1:
            stem = _METHOD_SUFFIX.sub("", operation["operationId"])
            operation["operationId"] = f"{stem}_{method.lower()}"


def declare_problems(
    app: FastAPI,
    *statuses: int,
    prefixes: tuple[str, ...] = ("/",),
    methods: Iterable[str] = (),
) -> None:
    """Document more problem statuses on ``app``'s operations under ``prefixes``.

    For parts that add answers outside the routes: a guard (401/403 under ``/admin``),
    a rate limit (429 everywhere), a header limit (431). Call after the app is built.
    """
    rules: list[ResponseRule] = app.state.problem_rules
    rules.append(
        ResponseRule(
            tuple(statuses),
            prefixes=prefixes,
            methods=frozenset(method.upper() for method in methods),
        )
    )
    app.openapi_schema = None  # the next openapi() call regenerates with the new rule


def document_problems(schema: dict[str, Any], rules: Iterable[ResponseRule]) -> None:
    """Add the ``Problem`` schema and each rule's statuses to ``schema``, idempotently.

    FastAPI's own 422 (``HTTPValidationError`` as ``application/json``) is replaced:
    the services answer validation errors as problems.
    """
    rules = list(rules)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            validation = responses.get("422")
            if validation is not None and PROBLEM_MEDIA_TYPE not in validation.get("content", {}):
                responses["422"] = problem_response(422)
            for rule in rules:
                if rule.matches(path, method, operation):
                    for status in rule.statuses:
                        responses.setdefault(str(status), rule.response(status))
    for unused in ("HTTPValidationError", "ValidationError"):
        if not _referenced(schema, unused):
            components.pop(unused, None)


def _referenced(schema: Mapping[str, Any], name: str) -> bool:
    """Whether anything but the component itself still points at ``#/components/schemas/name``."""
    target = f'"#/components/schemas/{name}"'
    others = {
        key: value
        for key, value in schema.get("components", {}).get("schemas", {}).items()
        if key != name
    }
    return target in json.dumps([schema.get("paths", {}), others])
