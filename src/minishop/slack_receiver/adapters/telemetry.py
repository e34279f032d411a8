"""What the receiver counts: messages received, by outcome."""

from minishop.observability import ServiceMetrics


class ReceiverMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        counter = metrics.counter(
            "slack_messages_received", "Incoming-webhook messages received.", ["result"]
        )
        self._accepted = counter.labels(metrics.service, "accepted")
        self._rejected = counter.labels(metrics.service, "rejected")

    def accepted(self) -> None:
        self._accepted.inc()

    def rejected(self) -> None:
        self._rejected.inc()
