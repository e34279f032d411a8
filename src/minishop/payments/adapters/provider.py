"""The simulated card provider: random failures and latency, tunable while running."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from minishop.payments.domain.model import FAILURE_REASONS, ChargeOutcome


@dataclass
class ProviderBehaviour:
    """How the fake provider behaves; changed at run time to inject faults."""

    failure_rate: float
    latency_min_ms: float
    latency_max_ms: float

    def validate(self) -> ProviderBehaviour:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if not 0 <= self.latency_min_ms <= self.latency_max_ms <= 60_000:
            raise ValueError("latency must satisfy 0 <= min <= max <= 60000 ms")
        return self


class SimulatedProvider:
    def __init__(self, behaviour: ProviderBehaviour, seed: int | None = None) -> None:
        self.behaviour = behaviour.validate()
        self._random = random.Random(seed)

    async def charge(self, amount_cents: int, order_id: int) -> ChargeOutcome:
        behaviour = self.behaviour
        latency = self._random.uniform(behaviour.latency_min_ms, behaviour.latency_max_ms)
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        if self._random.random() < behaviour.failure_rate:
            return ChargeOutcome(succeeded=False, reason=self._random.choice(FAILURE_REASONS))
        return ChargeOutcome(succeeded=True)
