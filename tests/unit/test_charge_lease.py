"""A charge in progress is a lease: renewed while it runs, resolved once nobody renews it."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider

from minishop.payments.application import services
from minishop.payments.application.services import PaymentService
from minishop.payments.domain.model import ChargeOutcome, PaymentStatus
from tests.unit.test_use_cases import FakeOrderBook, FakePayments


class SlowProvider:
    """Answers after ``seconds``; records whether a charge was cancelled before it answered."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cancelled = 0
        self.started = asyncio.Event()

    async def charge(self, amount_cents: int, order_id: int) -> ChargeOutcome:
        self.started.set()
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return ChargeOutcome(True)


@pytest.fixture
def tracer():
    return TracerProvider().get_tracer("test")


@pytest.fixture(autouse=True)
def quick_renewals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "CHARGE_RENEW_SECONDS", 0.02)


async def test_a_long_charge_renews_its_lease_and_succeeds(tracer) -> None:
    repository = FakePayments()
    service = PaymentService(repository, SlowProvider(0.15), FakeOrderBook(), tracer)
    payment = await service.pay(1)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert repository.renewals >= 3


async def test_the_reconciler_never_fails_a_charge_this_process_is_running(tracer) -> None:
    repository = FakePayments()
    provider = SlowProvider(0.2)
    service = PaymentService(repository, provider, FakeOrderBook(), tracer)
    paying = asyncio.create_task(service.pay(1))
    await provider.started.wait()
    (payment_id,) = repository.rows
    repository.stale = [payment_id]  # as if its lease had run out (a stalled event loop)
    await service.reconcile()
    assert repository.rows[payment_id].status == PaymentStatus.PROCESSING
    assert (await paying).status == PaymentStatus.SUCCEEDED


async def test_a_charge_left_by_a_dead_process_is_failed_as_interrupted(tracer) -> None:
    repository = FakePayments()
    book = FakeOrderBook()
    orphan = await repository.start(1, 2500, None)  # started by a process that then died
    repository.stale = [orphan.id]
    service = PaymentService(repository, SlowProvider(0), book, tracer)
    assert await service.reconcile() == 1
    resolved = repository.rows[orphan.id]
    assert (resolved.status, resolved.reason) == (PaymentStatus.FAILED, "interrupted")
    assert book.results == [(orphan.id, False)]
    assert book.status == "payment_failed"  # payable again
    assert (await service.pay(1)).status == PaymentStatus.SUCCEEDED


async def test_a_charge_whose_lease_was_taken_is_cancelled_and_reports_the_decision(
    tracer,
) -> None:
    repository = FakePayments()
    provider = SlowProvider(10)
    book = FakeOrderBook()
    service = PaymentService(repository, provider, book, tracer)
    paying = asyncio.create_task(service.pay(1))
    await provider.started.wait()
    (payment_id,) = repository.rows
    # Another process declared it interrupted (it saw no renewal for a whole lease).
    await repository.finish(payment_id, ChargeOutcome(False, "interrupted"))
    payment = await asyncio.wait_for(paying, timeout=5)
    assert (payment.status, payment.reason) == (PaymentStatus.FAILED, "interrupted")
    assert provider.cancelled == 1  # it cannot succeed behind that decision
