"""The processes the command line runs from this package: the five shop services and the
Slack receiver that stands in for Slack."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

from minishop.platform.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    package: str
    settings_class: str
    prefix: str | None = None  # default: the name in capitals

    def settings_type(self) -> type[ServiceSettings]:
        module = importlib.import_module(f"minishop.{self.package}.settings")
        return getattr(module, self.settings_class)

    def app_factory(self) -> Callable[[ServiceSettings], FastAPI]:
        return importlib.import_module(f"minishop.{self.package}.bootstrap").create_app

    @property
    def env_prefix(self) -> str:
        return self.prefix or f"{self.name.upper()}_"


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("users", "users", "UsersSettings"),
    ServiceEntry("products", "products", "ProductsSettings"),
    ServiceEntry("orders", "orders", "OrdersSettings"),
    ServiceEntry("payments", "payments", "PaymentsSettings"),
    ServiceEntry("gateway", "gateway", "GatewaySettings"),
)

# Not part of the shop: where Alertmanager's Slack notifications land locally.
SLACK_RECEIVER = ServiceEntry(
    "slack-receiver", "slack_receiver", "SlackReceiverSettings", prefix="SLACK_RECEIVER_"
)

BY_NAME = {entry.name: entry for entry in (*SERVICES, SLACK_RECEIVER)}

# Which downstream URL settings each service has, to point them at the ports in use.
DOWNSTREAMS: dict[str, tuple[str, ...]] = {
    "orders": ("users", "products"),
    "payments": ("orders",),
    "gateway": ("users", "products", "orders", "payments"),
}
