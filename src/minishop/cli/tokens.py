"""The shop's two credentials for one ``minishop up`` run.

Every service that holds credentials (all but the gateway, see the manifest) gets the
same ``MINISHOP_INTERNAL_TOKEN`` (service-to-service calls) and ``MINISHOP_ADMIN_TOKEN``
(``/admin`` routes). A value set in the environment is used as
it is, so another terminal or a script can know it in advance; an unset one is generated
for this run, so a fresh checkout is never open to whoever can reach a port.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from minishop.platform.settings import ADMIN_TOKEN_VARIABLE, INTERNAL_TOKEN_VARIABLE

TOKEN_VARIABLES = frozenset({INTERNAL_TOKEN_VARIABLE, ADMIN_TOKEN_VARIABLE})
TOKEN_BYTES = 32  # secrets.token_urlsafe: 43 characters, 256 bits


@dataclass(frozen=True)
class ShopTokens:
    internal: str
    admin: str
    admin_generated: bool

    def env(self) -> dict[str, str]:
        """What each service's process environment gets."""
        return {INTERNAL_TOKEN_VARIABLE: self.internal, ADMIN_TOKEN_VARIABLE: self.admin}


def shop_tokens(env: Mapping[str, str] | None = None) -> ShopTokens:
    """The tokens from ``env`` (default: this process's), generating those unset or blank."""
    source = os.environ if env is None else env

    def given(variable: str) -> str | None:
        value = source.get(variable, "")
        return value if value.strip() else None

    internal = given(INTERNAL_TOKEN_VARIABLE)
    admin = given(ADMIN_TOKEN_VARIABLE)
    return ShopTokens(
        internal=internal or secrets.token_urlsafe(TOKEN_BYTES),
        admin=admin or secrets.token_urlsafe(TOKEN_BYTES),
        admin_generated=admin is None,
    )
