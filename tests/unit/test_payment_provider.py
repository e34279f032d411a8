"""The simulated provider follows the payment flags of the flag file it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from minishop.flags import FlagSource, flag_spec
from minishop.flags.document import read_document, switched_on, write_document
from minishop.payments.adapters.provider import ProviderBehaviour, SimulatedProvider
from minishop.payments.domain.model import ProviderUnreachable

BASE = ProviderBehaviour(failure_rate=0.0, latency_min_ms=0, latency_max_ms=0)


def _provider(tmp_path: Path, **flags: str) -> SimulatedProvider:
    path = tmp_path / "flags.json"
    document = read_document(path)
    for name, value in flags.items():
        spec = flag_spec(name)
        document = switched_on(document, spec, spec.parse([value]))
    write_document(path, document)
    source = FlagSource(path, service="payments")
    source.refresh()
    return SimulatedProvider(BASE, source, seed=1)


async def test_without_flags_the_base_rate_holds(tmp_path: Path) -> None:
    provider = _provider(tmp_path)
    assert provider.failure_rate() == 0.0
    outcomes = [await provider.charge(100, 1) for _ in range(20)]
    assert all(outcome.succeeded for outcome in outcomes)


async def test_payment_failure_replaces_the_base_rate(tmp_path: Path) -> None:
    provider = _provider(tmp_path, payment_failure="100")
    assert provider.failure_rate() == 1.0
    outcomes = [await provider.charge(100, 1) for _ in range(20)]
    assert not any(outcome.succeeded for outcome in outcomes)


async def test_an_unreachable_provider_refuses_the_connection(tmp_path: Path) -> None:
    provider = _provider(tmp_path, payment_unreachable="on", payment_failure="0")
    with pytest.raises(ProviderUnreachable) as raised:
        await provider.charge(100, 1)
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)
    assert "Connect call failed" in raised.value.detail
    assert raised.value.payment is None  # the use case adds it once it is recorded
