"""The five services as the command line knows them, in start order."""

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

    def settings_type(self) -> type[ServiceSettings]:
        module = importlib.import_module(f"minishop.{self.package}.settings")
        return getattr(module, self.settings_class)

    def app_factory(self) -> Callable[[ServiceSettings], FastAPI]:
        return importlib.import_module(f"minishop.{self.package}.bootstrap").create_app

    @property
    def env_prefix(self) -> str:
        return f"{self.name.upper()}_"


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("users", "users", "UsersSettings"),
    ServiceEntry("products", "products", "ProductsSettings"),
    ServiceEntry("orders", "orders", "OrdersSettings"),
    ServiceEntry("payments", "payments", "PaymentsSettings"),
    ServiceEntry("gateway", "gateway", "GatewaySettings"),
)

BY_NAME = {entry.name: entry for entry in SERVICES}

# Which downstream URL settings each service has, to point them at the ports in use.
DOWNSTREAMS: dict[str, tuple[str, ...]] = {
    "orders": ("users", "products"),
    "payments": ("orders",),
    "gateway": ("users", "products", "orders", "payments"),
}
