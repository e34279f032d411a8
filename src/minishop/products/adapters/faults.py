"""The ``product_db_error PRODUCT_ID`` fault: the database fails for one product only.

A needle in a haystack (CONTRACT §9): while the flag is on, every statement that reads
that product by id (``GET /api/v1/products/{id}``, ``?ids=`` lookups) or changes its
stock (deductions, which is how orders reserves and prices an order, and releases) fails
in the database, and every other product works. Pages of the catalog listed without ``ids``
are not affected: browsing stays healthy, only requests that ask for that product fail.

The failure is a real one: the repository runs, in the request's own connection and
transaction, a statement on a table that does not exist (``products_injected_fault``),
so the database answers an error, the statement's span ends in ERROR with it, and the
transaction rolls back (a deduction takes no stock). SQLite reports a missing table as
an operational error, PostgreSQL as a generic one; either is raised as
``DatabaseUnavailable``, which the service answers with its usual 503
``database-unavailable`` problem. The request's span gets ``product.id`` and the
``feature_flag.evaluation`` event; the log line names the product.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from opentelemetry import trace

from minishop.flags import FlagSource, record_evaluation
from minishop.observability.logging import get_logger
from minishop.platform.sql import Connection, DatabaseError, DatabaseUnavailable

FLAG = "product_db_error"
FAILING_STATEMENT = "SELECT stock FROM products_injected_fault WHERE product_id = $1"
"""Fails in the database: no migration creates this table."""

_log = get_logger("minishop.products")


class ProductDbError:
    """Tells the repository which product's statements fail now, and fails them."""

    def __init__(self, flags: FlagSource | None) -> None:
        self._flags = flags

    def among(self, product_ids: Iterable[int]) -> int | None:
        """The failing product if ``product_ids`` holds it, else None (the usual case)."""
        if self._flags is None:
            return None
        failing = self._flags.active.product_db_error
        if failing is None or failing not in product_ids:
            return None
        return failing

    async def fail(self, connection: Connection, product_id: int) -> NoReturn:
        """Run the failing statement for ``product_id`` on ``connection`` (in the request's
        transaction, which then rolls back) and raise its error as ``DatabaseUnavailable``."""
        span = trace.get_current_span()
        span.set_attribute("product.id", product_id)
        variant = self._flags.active.variant(FLAG) if self._flags is not None else "on"
        record_evaluation(FLAG, variant, product_id)
        try:
            await connection.fetchval(FAILING_STATEMENT, product_id)
        except DatabaseError as exc:
            driver_error = exc.driver_error or exc
            _logged(product_id, driver_error)
            if isinstance(exc, DatabaseUnavailable):
                raise
            raise DatabaseUnavailable(str(exc), driver_error) from exc
        # Someone created the table: fail all the same, the flag asks for it.
        injected = RuntimeError("injected fault")
        _logged(product_id, injected)
        raise DatabaseUnavailable(FAILING_STATEMENT, injected)


def _logged(product_id: int, error: BaseException) -> None:
    _log.error(
        f"database error on product {product_id}",
        product_id=product_id,
        error_type=type(error).__name__,
        error=str(error),
    )
