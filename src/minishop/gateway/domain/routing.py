"""Which service answers which public path."""

from __future__ import annotations

from dataclasses import dataclass

SERVICES = ("users", "products", "orders", "payments")


@dataclass(frozen=True)
class Route:
    """A public path of the gateway and where it is answered."""

    service: str
    upstream_path: str


SHORTCUTS = {
    ("POST", "/order"): Route("orders", "/api/v1/orders"),
    ("POST", "/payment/pay"): Route("payments", "/api/v1/payments"),
}


def resource_route(service: str, rest: str = "") -> Route:
    """``/api/v1/<service>[/<rest>]`` is answered by that service at the same path.

    Only the public API is reachable: the services' ``/internal`` routes have no
    public path, so nothing a client sends can reach them through the gateway.
    """
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    path = f"/api/v1/{service}"
    if rest:
        path = f"{path}/{rest.lstrip('/')}"
    return Route(service, path)
