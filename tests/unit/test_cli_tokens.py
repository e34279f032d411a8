"""``minishop up`` gives every shop service the same two tokens and prints only the admin one."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from minishop.cli.app import _banner, _plan
from minishop.cli.tokens import ShopTokens, shop_tokens
from minishop.manifest import MANIFEST


def test_unset_tokens_are_generated_fresh_and_set_ones_are_kept() -> None:
    first, second = shop_tokens({}), shop_tokens({"MINISHOP_ADMIN_TOKEN": "  "})
    assert first.admin_generated and second.admin_generated
    assert len({first.internal, first.admin, second.internal, second.admin}) == 4
    assert all(len(token) >= 43 for token in (first.internal, first.admin))
    chosen = shop_tokens({"MINISHOP_ADMIN_TOKEN": "adm-1", "MINISHOP_INTERNAL_TOKEN": "int-1"})
    assert (chosen.internal, chosen.admin, chosen.admin_generated) == ("int-1", "adm-1", False)


def test_every_service_behind_the_gateway_gets_the_same_tokens_and_the_gateway_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MINISHOP_INTERNAL_TOKEN", raising=False)
    monkeypatch.delenv("MINISHOP_ADMIN_TOKEN", raising=False)
    tokens = shop_tokens()
    plan = _plan(None, None, stack=False, tokens=tokens)
    assert [spec.name for spec in plan.shop] == [entry.name for entry in MANIFEST.shop]
    holders = {entry.name for entry in MANIFEST if entry.holds_credentials}
    assert holders == {"users", "products", "orders", "payments"}
    for spec in plan.shop:
        if spec.name in holders:
            assert spec.env["MINISHOP_INTERNAL_TOKEN"] == tokens.internal, spec.name
            assert spec.env["MINISHOP_ADMIN_TOKEN"] == tokens.admin, spec.name
            assert not spec.withheld, spec.name
        else:
            assert "MINISHOP_INTERNAL_TOKEN" not in spec.env, spec.name
            assert "MINISHOP_ADMIN_TOKEN" not in spec.env, spec.name
            assert spec.withheld == {"MINISHOP_INTERNAL_TOKEN", "MINISHOP_ADMIN_TOKEN"}


def test_tokens_exported_in_the_shell_do_not_reach_the_processes_that_need_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINISHOP_INTERNAL_TOKEN", "exported-internal")
    monkeypatch.setenv("MINISHOP_ADMIN_TOKEN", "exported-admin")
    plan = _plan(tmp_path, None, stack=True, tokens=shop_tokens())
    for spec in plan.all:
        holds = spec.name in {entry.name for entry in MANIFEST if entry.holds_credentials}
        assert bool(spec.withheld) is not holds, spec.name


def test_the_banner_shows_the_admin_token_and_a_chaos_command_never_the_internal_one() -> None:
    tokens = ShopTokens(internal="internal-secret-1", admin="admin-token-1", admin_generated=True)
    plan = _plan(None, None, stack=False, tokens=tokens)
    banner = _banner(plan, 1.0)
    assert "admin-token-1" in banner
    assert "internal-secret-1" not in banner
    (chaos,) = [line for line in banner.splitlines() if "chaos set payment_failure 30" in line]
    assert chaos.strip().endswith("minishop chaos set payment_failure 30"), chaos
    assert "/internal/" not in banner
    assert "generated for this run" in banner


def test_a_bad_token_is_a_one_line_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINISHOP_ADMIN_TOKEN", "has spaces")
    with pytest.raises(typer.Exit) as stopped:
        _plan(None, None, stack=False, tokens=shop_tokens())
    assert stopped.value.exit_code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "MINISHOP_ADMIN_TOKEN: " in line
    assert "USERS_MINISHOP" not in line
