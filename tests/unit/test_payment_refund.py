"""A charge orders refuses (its order closed while it ran) is refunded once, by either path."""

from __future__ import annotations

from opentelemetry.trace import StatusCode

from minishop.payments.application.services import PaymentService
from minishop.payments.domain.model import ChargeOutcome, OrderSnapshot, Payment, PaymentStatus
from tests.unit.test_use_cases import FakeOrderBook, FakePayments, ScriptedProvider


class Refunds:
    """The refund listener: what the metrics adapter would count."""

    def __init__(self) -> None:
        self.seen: list[Payment] = []

    def refunded(self, payment: Payment) -> None:
        self.seen.append(payment)


class ExpiringProvider(ScriptedProvider):
    """Charges successfully, and the order expires while the charge runs."""

    def __init__(self, book: FakeOrderBook) -> None:
        super().__init__(ChargeOutcome(True))
        self.book = book

    async def charge(self, amount_cents: int, order_id: int) -> ChargeOutcome:
        self.book.status = "expired"
        return await super().charge(amount_cents, order_id)


async def test_a_charge_whose_order_expired_meanwhile_is_refunded(tracer, spans) -> None:
    book = FakeOrderBook()
    provider = ExpiringProvider(book)
    repository = FakePayments()
    refunds = Refunds()
    service = PaymentService(repository, provider, book, tracer, refunds=refunds)

    payment = await service.pay(1)

    assert (payment.status, payment.reason) == (PaymentStatus.REFUNDED, "order_closed")
    assert provider.refunds == [(payment.id, 2500)]
    assert refunds.seen == [payment]
    assert repository.rows[payment.id].order_synced  # orders has answered: nothing to retry
    assert book.status == "expired"
    assert await service.reconcile() == 0
    assert provider.refunds == [(payment.id, 2500)]  # once
    (span,) = [s for s in spans.get_finished_spans() if s.name == "ProcessPayment"]
    assert span.attributes["payment.result"] == "refunded"
    assert span.attributes["payment.failure_reason"] == "order_closed"
    assert span.status.status_code == StatusCode.ERROR
    (event,) = [e for e in span.events if e.name == "payment.refunded"]
    assert event.attributes["payment.refund_reason"] == "order_closed"


async def test_a_charge_on_an_open_order_is_kept(tracer) -> None:
    book = FakeOrderBook()
    provider = ScriptedProvider(ChargeOutcome(True))
    refunds = Refunds()
    service = PaymentService(FakePayments(), provider, book, tracer, refunds=refunds)
    payment = await service.pay(1)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert book.status == "paid"
    assert provider.refunds == [] and refunds.seen == []


async def test_a_refused_failure_is_only_marked_told(tracer) -> None:
    """Declined, and the order closed meanwhile: nothing was charged, nothing to give back."""
    book = FakeOrderBook()
    provider = ScriptedProvider(ChargeOutcome(False, "card_declined"))
    repository = FakePayments()
    refunds = Refunds()
    service = PaymentService(repository, provider, book, tracer, refunds=refunds)
    read = book.get

    async def closing_get(order_id: int) -> OrderSnapshot | None:
        snapshot = await read(order_id)  # payable when payments checks it
        book.status = "expired"
        return snapshot

    book.get = closing_get  # type: ignore[method-assign]
    payment = await service.pay(1)
    assert (payment.status, payment.reason) == (PaymentStatus.FAILED, "card_declined")
    assert book.results == [(payment.id, False)] and book.status == "expired"
    assert repository.rows[payment.id].order_synced
    assert provider.refunds == [] and refunds.seen == []


async def test_the_reconciler_refunds_a_charge_refused_later(tracer, spans) -> None:
    book = FakeOrderBook()
    book.reachable = False
    provider = ScriptedProvider(ChargeOutcome(True))
    repository = FakePayments()
    refunds = Refunds()
    service = PaymentService(repository, provider, book, tracer, refunds=refunds)
    payment = await service.pay(1)
    assert payment.status == PaymentStatus.SUCCEEDED  # orders could not be told yet
    book.status = "expired"  # and meanwhile the order expired
    book.reachable = True

    assert await service.reconcile() == 1

    refunded = repository.rows[payment.id]
    assert (refunded.status, refunded.reason) == (PaymentStatus.REFUNDED, "order_closed")
    assert refunded.order_synced
    assert provider.refunds == [(payment.id, 2500)]
    assert [seen.id for seen in refunds.seen] == [payment.id]
    (span,) = [s for s in spans.get_finished_spans() if s.name == "RefundPayment"]
    assert span.attributes["payment.result"] == "refunded"
    assert span.attributes["payment.id"] == payment.id
    assert [e.name for e in span.events] == ["payment.refunded"]
    assert await service.reconcile() == 0


async def test_the_request_and_the_reconciler_refund_once(tracer) -> None:
    """Both hear the refusal: the provider is asked twice (idempotent by payment id), the
    payment turns ``refunded`` once and the refund is counted once."""
    book = FakeOrderBook()
    provider = ExpiringProvider(book)
    repository = FakePayments()
    refunds = Refunds()
    service = PaymentService(repository, provider, book, tracer, refunds=refunds)
    record = book.record_result
    reconciled: list[int] = []

    async def racing_record(order_id: int, payment_id: str, succeeded: bool) -> bool:
        if not reconciled:  # the request's call: the reconciler runs in between
            reconciled.append(0)
            reconciled.append(await service.reconcile())
        return await record(order_id, payment_id, succeeded)

    book.record_result = racing_record  # type: ignore[method-assign]
    payment = await service.pay(1)

    assert reconciled == [0, 1]
    assert (payment.status, payment.reason) == (PaymentStatus.REFUNDED, "order_closed")
    assert [payment_id for payment_id, _ in provider.refunds] == [payment.id, payment.id]
    assert len(refunds.seen) == 1
