"""Business metrics of the users service."""

from minishop.observability import ServiceMetrics


class UserMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._registrations = metrics.counter("user_registrations", "Users registered.").labels(
            metrics.service
        )

    def registered(self) -> None:
        self._registrations.inc()
