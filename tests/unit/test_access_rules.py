"""The service-side access rules: which paths are guarded, and the token settings."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import SecretStr, ValidationError

from minishop.orders.settings import OrdersSettings
from minishop.platform.access import (
    ADMIN,
    DEBUG,
    INTERNAL,
    AccessGuard,
    Zone,
    closed_zones,
    guarded_zones,
)


def _scope(path: str, raw: str | None = None) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "path": path}
    if raw is not None:
        scope["raw_path"] = raw.encode("latin-1")
    return scope


@pytest.mark.parametrize(
    ("path", "raw", "zones"),
    [
        ("/internal/inventory/deductions", None, [INTERNAL]),
        ("/admin/flags", "/admin/flags", [ADMIN]),
        ("/Internal/x", None, [INTERNAL]),
        ("//internal/x", None, [INTERNAL]),
        ("/./internal/x", None, [INTERNAL]),
        ("/api/../internal/x", None, [INTERNAL]),
        ("/api/..\\internal/x", None, [INTERNAL]),
        ("/internal/x", "/%69nternal/x", [INTERNAL]),
        ("/api/..%2finternal", "/api/..%252finternal", [INTERNAL]),
        ("/a/%2e%2e/admin/x", "/a/%252e%252e/admin/x", [ADMIN]),
        ("/admin/../internal/x", None, [ADMIN, INTERNAL]),
        ("/debug/pprof/profile", "/debug/pprof/profile?seconds=5", [DEBUG]),
        ("/DEBUG/pprof/profile", None, [DEBUG]),
        ("/api/../debug/pprof/profile", None, [DEBUG]),
        ("/debug/pprof/profile", "/%64ebug/pprof/profile", [DEBUG]),
        ("/x/%2e%2e/debug/pprof", "/x/%252e%252e/debug/pprof", [DEBUG]),
        ("/debug/../admin/flags", None, [DEBUG, ADMIN]),
        ("/x", "/%2525252541", [INTERNAL, ADMIN, DEBUG]),  # too deep to tell: every zone
        ("/api/v1/orders/1", "/api/v1/orders/1", []),
        ("/api/v1/internal", None, []),
        ("/internals/x", None, []),
        ("/debugger", None, []),
        ("/api/v1/debug/pprof/profile", None, []),
        ("/metrics", "/metrics?x=/internal", []),
    ],
)
def test_every_reading_of_the_path_is_checked(
    path: str, raw: str | None, zones: list[Zone]
) -> None:
    assert guarded_zones(_scope(path, raw)) == zones


def test_only_the_zones_a_service_has_are_guarded() -> None:
    assert guarded_zones(_scope("/admin/flags"), [INTERNAL]) == []
    assert guarded_zones(_scope("/debug/pprof/profile"), [INTERNAL, ADMIN]) == []


def test_the_debug_zone_takes_the_admin_bearer_token() -> None:
    assert DEBUG.variable == ADMIN.variable == "MINISHOP_ADMIN_TOKEN"
    assert DEBUG.presented([(b"authorization", b"Bearer t-1")]) == b"t-1"
    assert DEBUG.presented([(b"x-internal-token", b"t-1")]) is None
    admin_only = closed_zones([INTERNAL, ADMIN, DEBUG], SecretStr("i"), None)
    assert admin_only == [ADMIN, DEBUG]  # no admin token: both zones closed


def _refusal(guard: AccessGuard, headers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    scope = {**_scope("/debug/pprof/profile"), "headers": headers, "query_string": b""}
    refusal = guard._refusal(DEBUG, scope)
    if refusal is None:
        return 200, ""
    return refusal.status_code, orjson.loads(refusal.body)["detail"]


def test_debug_refusals_say_what_is_missing() -> None:
    guard = AccessGuard(None, internal_token=None, admin_token=SecretStr("admin"))  # type: ignore[arg-type]
    assert _refusal(guard, [])[0] == 401
    assert _refusal(guard, [(b"authorization", b"Bearer other")])[0] == 403
    assert _refusal(guard, [(b"authorization", b"Bearer admin")])[0] == 200
    closed = AccessGuard(None, internal_token=None, admin_token=None)  # type: ignore[arg-type]
    status, detail = _refusal(closed, [(b"authorization", b"Bearer admin")])
    assert status == 403 and "MINISHOP_ADMIN_TOKEN is not set" in detail
    gateway = AccessGuard(None, internal_token=None, admin_token=None, withheld="gateway")  # type: ignore[arg-type]
    status, detail = _refusal(gateway, [(b"authorization", b"Bearer admin")])
    assert status == 403 and "gateway is never given MINISHOP_ADMIN_TOKEN" in detail
    assert "minishop serve gateway" in detail


def test_tokens_come_from_the_shared_variables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_INTERNAL_TOKEN", "prefixed")
    monkeypatch.setenv("INTERNAL_TOKEN", "bare")
    assert OrdersSettings().internal_token is None
    monkeypatch.setenv("MINISHOP_INTERNAL_TOKEN", "shared")
    monkeypatch.setenv("MINISHOP_ADMIN_TOKEN", "admin")
    settings = OrdersSettings(internal_token="by-name")  # the environment wins, as elsewhere
    assert settings.internal_token is not None
    assert settings.internal_token.get_secret_value() == "shared"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "admin"
    assert "shared" not in repr(settings)


def test_tokens_by_field_name_and_empty_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINISHOP_INTERNAL_TOKEN", raising=False)
    monkeypatch.delenv("MINISHOP_ADMIN_TOKEN", raising=False)
    settings = OrdersSettings(internal_token="t-1", admin_token="  ")
    assert settings.internal_token is not None
    assert settings.internal_token.get_secret_value() == "t-1"
    assert settings.admin_token is None


@pytest.mark.parametrize("token", ["two words", "tab\there", "caf\u00e9", "nul\x00"])
def test_a_token_that_cannot_travel_in_a_header_is_refused(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MINISHOP_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="printable ASCII"):
        OrdersSettings(admin_token=token)
