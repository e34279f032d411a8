"""Property-based fuzzing of every service from its own OpenAPI document (schemathesis).

Each service's published schema drives Hypothesis: valid requests (positive mode) and
requests that break the schema on purpose (negative mode), for every operation. They go
through the shop running in-process, so cross-service calls are real, on SQLite and on
PostgreSQL. Every answer must be no 5xx, a status the operation documents, with the
documented content type and, where a schema is given, a body that matches it.

Cases are generated up front (Hypothesis is synchronous), then sent on the test's event
loop, where the services' database connections live. Generation is derandomized: the
same code generates the same cases, so a failure reproduces with the same command.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.helpers import create_product, order_body
from tests.support.shop import BASE, SHOP_SERVICES, Shop

pytestmark = pytest.mark.fuzz

CASES_PER_OPERATION = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 40}
"""Per operation and mode; with both databases the whole run stays well under 3 minutes."""
GATEWAY_CASES_PER_OPERATION = {GenerationMode.POSITIVE: 15}
"""The gateway's routes take any path and any body, so no request breaks its schema and
negative mode has nothing to generate; its 42 operations get positive cases only."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
"""A request that breaks the schema must also be refused (4xx), never accepted."""


def generate(operation: Any, mode: GenerationMode, count: int) -> list[Case]:
    """``count`` cases for one operation, the same ones on every run (derandomized)."""
    cases: list[Case] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def collect(case: Case) -> None:
        cases.append(case)

    with contextlib.suppress(Unsatisfiable):  # nothing to negate: no parameters, no body
        collect()
    return cases


def as_httpx_request(case: Case) -> httpx.Request:
    """The bytes schemathesis would send (it prepares requests-style), as an httpx request."""
    prepared = requests.Request(**case.as_transport_kwargs(base_url=BASE)).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return httpx.Request(
        prepared.method or "GET", prepared.url or BASE, headers=prepared.headers, content=body
    )


async def seed(shop: Shop) -> None:
    """A user, a product and an order with id 1, so the schemas' examples name real rows."""
    async with shop.client() as client:
        user = await client.post("/api/v1/users", json={"email": "ada@example.com", "name": "Ada"})
        assert user.status_code == 201, user.text
        await create_product(client, "FUZZ-1", stock=1_000_000)
        order = await client.post("/order", json=order_body())
        assert order.status_code == 201, order.text


@pytest.mark.parametrize("service", SHOP_SERVICES)
async def test_no_input_gets_a_5xx_or_an_undocumented_answer(
    shop: Shop, service: str, record_property: Callable[[str, object], None]
) -> None:
    await seed(shop)
    app = shop.apps[service]
    budget = GATEWAY_CASES_PER_OPERATION if service == "gateway" else CASES_PER_OPERATION
    schema = schemathesis.openapi.from_dict(app.openapi())
    failures: list[str] = []
    sent = 0
    generating = 0.0
    kinds: Counter[str] = Counter()
    started = time.monotonic()
    # An unhandled error must come back as the 500 a real server sends, to be counted.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode, count in budget.items():
                checks = NEGATIVE_CHECKS if mode == GenerationMode.NEGATIVE else CHECKS
                generation_started = time.monotonic()
                cases = generate(operation, mode, count)
                generating += time.monotonic() - generation_started
                for case in cases:
                    request = as_httpx_request(case)
                    response = await client.send(request)
                    sent += 1
                    try:
                        case.validate_response(response, checks=checks)
                    except FailureGroup as failure:
                        failures.append(f"{operation.label} [{mode.value}]: {failure}")
                        kinds.update(type(each).__name__ for each in failure.exceptions)
    elapsed = time.monotonic() - started
    record_property("fuzz_cases", sent)
    print(
        f"\nfuzz {service}: {sent} cases in {elapsed:.1f} s "
        f"({generating:.1f} s generating), {len(failures)} failures {dict(kinds)}"
    )
    assert sent > 0
    assert not failures, "\n\n".join(failures[:5]) + f"\n\n({len(failures)} failures in all)"
