"""The simulated card provider: random declines and latency, and the faults of its link.

Its base behaviour (failure rate, latency) comes from the settings
(``PAYMENTS_FAILURE_RATE``, ``PAYMENTS_LATENCY_MIN_MS``, ``PAYMENTS_LATENCY_MAX_MS``) and
does not change while the shop runs. Faults come from the fault flags (CONTRACT §9), read
on each charge from the service's :class:`FlagSource`:

- ``payment_failure PERCENT`` replaces the base failure rate while it is on;
- ``payment_unreachable`` makes the provider's host refuse the connection: the charge
  fails like a real client's would, after a connect attempt, with
  :class:`ConnectionRefusedError`, which this adapter hands to the use case as
  :class:`ProviderUnreachable` (nothing was charged).

Each charge a flag changed carries the ``feature_flag.evaluation`` event on its span
(``ProcessPayment``: the charge runs in its context).
"""

from __future__ import annotations

import asyncio
import errno
import random
from dataclasses import dataclass

from minishop.flags import FlagSource, record_evaluation
from minishop.payments.domain.model import (
    FAILURE_REASONS,
    MAX_PROVIDER_LATENCY_MS,
    ChargeOutcome,
    ProviderUnreachable,
)

PROVIDER_ADDRESS = ("provider.payments.invalid", 443)
"""Where the simulated provider lives, as a connection error names it (a reserved name)."""
CONNECT_DELAY_SECONDS = 0.02
"""How long a refused connection takes to come back: a round trip to the provider's host."""


@dataclass(frozen=True)
class ProviderBehaviour:
    """How the simulated provider behaves when no fault is on (from the settings)."""

    failure_rate: float
    latency_min_ms: float
    latency_max_ms: float

    def validate(self) -> ProviderBehaviour:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if not 0 <= self.latency_min_ms <= self.latency_max_ms <= MAX_PROVIDER_LATENCY_MS:
            limit = MAX_PROVIDER_LATENCY_MS
            raise ValueError(f"latency must satisfy 0 <= min <= max <= {limit} ms")
        return self


class SimulatedProvider:
    def __init__(
        self,
        behaviour: ProviderBehaviour,
        flags: FlagSource | None = None,
        seed: int | None = None,
    ) -> None:
        self.behaviour = behaviour.validate()
        self._flags = flags
        self._random = random.Random(seed)

    def failure_rate(self) -> float:
        """The share of charges declined now: the ``payment_failure`` flag's, else the base."""
        percent = self._flags.active.payment_failure if self._flags is not None else None
        return self.behaviour.failure_rate if percent is None else percent / 100

    async def charge(self, amount_cents: int, order_id: int) -> ChargeOutcome:
        active = self._flags.active if self._flags is not None else None
        if active is not None and active.payment_unreachable:
            record_evaluation("payment_unreachable", active.variant("payment_unreachable"), True)
            try:
                await self._connect()
            except OSError as exc:
                raise ProviderUnreachable(str(exc)) from exc
        behaviour = self.behaviour
        failure_rate = behaviour.failure_rate
        percent = active.payment_failure if active is not None else None
        if active is not None and percent is not None:
            failure_rate = percent / 100
            record_evaluation("payment_failure", active.variant("payment_failure"), percent)
        latency = self._random.uniform(behaviour.latency_min_ms, behaviour.latency_max_ms)
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        if self._random.random() < failure_rate:
            return ChargeOutcome(succeeded=False, reason=self._random.choice(FAILURE_REASONS))
        return ChargeOutcome(succeeded=True)

    async def refund(self, payment_id: str, amount_cents: int) -> None:
        """Give a charge back: the simulated provider does it at once and never refuses.

        Nothing is kept here (the simulated charge moved no money), so asking twice for
        the same payment id is harmless, as a real provider's idempotent refund would be.
        """

    @staticmethod
    async def _connect() -> None:
        """A connection attempt to a host that refuses it, as the event loop reports one."""
        await asyncio.sleep(CONNECT_DELAY_SECONDS)
        host, port = PROVIDER_ADDRESS
        raise ConnectionRefusedError(errno.ECONNREFUSED, f"Connect call failed ({host!r}, {port})")
