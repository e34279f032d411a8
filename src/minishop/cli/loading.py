"""Each service's code, found from its manifest entry when a command needs it.

The command line never imports a service directly (an import rule says so): it runs
whatever the manifest names, so a new service needs no change here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from minishop.manifest import ServiceEntry
from minishop.platform.settings import ServiceSettings


class ServiceCodeError(LookupError):
    """A manifest entry whose package lacks what every service must provide."""


def settings_type(entry: ServiceEntry) -> type[ServiceSettings]:
    """``<package>.settings.<Name>Settings``: the service's settings class."""
    found = _attribute(entry, "settings", entry.settings_class)
    if not (isinstance(found, type) and issubclass(found, ServiceSettings)):
        raise ServiceCodeError(
            f"{entry.package}.settings.{entry.settings_class} is not a ServiceSettings"
        )
    return found


def app_factory(entry: ServiceEntry) -> Callable[[ServiceSettings], Any]:
    """``<package>.bootstrap.create_app``: builds the service's ASGI app from its settings."""
    found = _attribute(entry, "bootstrap", "create_app")
    if not callable(found):
        raise ServiceCodeError(f"{entry.package}.bootstrap.create_app is not callable")
    return found


def _attribute(entry: ServiceEntry, module_name: str, attribute: str) -> object:
    path = f"{entry.package}.{module_name}"
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name is not None and path.startswith(exc.name):
            raise ServiceCodeError(f"{entry.name}: the manifest names {path}, not found") from None
        raise
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ServiceCodeError(f"{entry.name}: {path} has no {attribute}") from None
