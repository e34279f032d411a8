"""The service manifest: consistent with itself, with each service's code and with the
deployment files; and a sixth service added by one entry is followed everywhere."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from minishop.cli.app import _plan, cli
from minishop.cli.deploy_files import (
    COMPOSE_FILE,
    DATABASES_FILE,
    DOCKERFILE,
    PROMETHEUS_FILE,
    check_deploy_files,
)
from minishop.cli.loading import ServiceCodeError, app_factory, settings_type
from minishop.manifest import MANIFEST, Manifest, ManifestError, ServiceEntry
from tests.support.shipping import SHIPPING
from tests.support.shop import running_shop

ROOT = Path(__file__).resolve().parents[2]
WITH_SHIPPING = Manifest((*MANIFEST.entries, SHIPPING))
DEPLOY_FILES = (COMPOSE_FILE, PROMETHEUS_FILE, DATABASES_FILE, DOCKERFILE)


def test_the_deployment_files_agree_with_the_manifest() -> None:
    assert [str(difference) for difference in check_deploy_files(MANIFEST, ROOT)] == []


def test_minishop_manifest_lists_the_services_and_checks_the_files() -> None:
    result = CliRunner().invoke(cli, ["manifest", "--check"])
    assert result.exit_code == 0, result.output
    for entry in MANIFEST:
        assert re.search(rf"^{re.escape(entry.name)}\s+{entry.port}\s", result.output, re.M)
    assert "agree with the manifest" in result.output


@pytest.mark.parametrize("entry", MANIFEST.entries, ids=lambda entry: entry.name)
def test_each_entry_names_a_package_with_matching_settings_and_a_bootstrap(
    entry: ServiceEntry,
) -> None:
    settings = settings_type(entry)
    assert settings.model_config["env_prefix"] == entry.env_prefix
    assert settings.model_fields["port"].default == entry.port
    assert callable(app_factory(entry))


def test_the_start_order_puts_each_service_after_those_it_calls() -> None:
    names = list(MANIFEST.names)
    for entry in MANIFEST:
        for called in MANIFEST.downstream(entry):
            assert names.index(called.name) < names.index(entry.name), (entry.name, called.name)
    assert WITH_SHIPPING.names.index("shipping") < WITH_SHIPPING.names.index("gateway")


@pytest.mark.parametrize(
    ("entries", "error"),
    [
        ((ServiceEntry("a", "p.a", 1), ServiceEntry("a", "p.b", 2)), "two services are named"),
        ((ServiceEntry("a", "p.a", 1), ServiceEntry("b", "p.b", 1)), "both use 1"),
        ((ServiceEntry("a", "p.a", 1, calls=("z",)),), "unknown service 'z'"),
        ((ServiceEntry("a", "p.a", 1, calls=("a",)),), "calls itself"),
        (
            (ServiceEntry("a", "p.a", 1, calls=("b",)), ServiceEntry("b", "p.b", 2, calls=("a",))),
            "cycle",
        ),
        (
            (
                ServiceEntry("a", "p.a", 1, entry_point=True),
                ServiceEntry("b", "p.b", 2, entry_point=True),
            ),
            "more than one entry point",
        ),
    ],
)
def test_a_contradictory_manifest_is_refused(entries: tuple[ServiceEntry, ...], error: str) -> None:
    with pytest.raises(ManifestError, match=error):
        Manifest(entries)


def test_an_entry_without_its_package_is_a_clear_error() -> None:
    missing = ServiceEntry("ghost", "minishop.ghost", 8999)
    with pytest.raises(ServiceCodeError, match=r"ghost: the manifest names minishop\.ghost\."):
        settings_type(missing)


# A sixth service: one manifest entry plus its own package (tests/support/shipping).


def test_the_command_line_starts_a_sixth_service_and_points_its_callers_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("SHIPPING_PORT", "SHIPPING_ORDERS_URL", "GATEWAY_SHIPPING_URL"):
        monkeypatch.delenv(variable, raising=False)
    plan = _plan(tmp_path, None, stack=False, manifest=WITH_SHIPPING)
    specs = {spec.name: spec for spec in plan.shop}
    assert list(specs) == [entry.name for entry in WITH_SHIPPING.shop]
    shipping = specs["shipping"]
    assert (shipping.port, shipping.port_variable) == (8005, "SHIPPING_PORT")
    assert shipping.env["SHIPPING_ORDERS_URL"] == f"http://127.0.0.1:{specs['orders'].port}"
    assert specs["gateway"].env["GATEWAY_SHIPPING_URL"] == "http://127.0.0.1:8005"
    assert shipping.env["SHIPPING_DATA_DIR"] == str(tmp_path)


async def test_the_gateway_routes_a_sixth_public_service(tmp_path: Path) -> None:
    async with running_shop(tmp_path, manifest=WITH_SHIPPING) as shop, shop.client() as client:
        response = await client.get("/api/v1/shipping/7")
        assert response.status_code == 200, response.text
        assert response.json() == {"id": 7, "status": "pending"}
        assert (await client.get("/api/v1/shipping")).json() == {"items": []}
        assert "/api/v1/shipping" in (await client.get("/")).json()["routes"]
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert "shipping" in ready.json()["checks"]
        assert "/api/v1/shipping/{path}" in (await client.get("/openapi.json")).json()["paths"]
        # And the real manifest's gateway knows nothing of it.
    async with running_shop(tmp_path / "real") as shop, shop.client() as client:
        assert (await client.get("/api/v1/shipping/7")).status_code == 404


def test_the_deployment_checks_name_what_a_sixth_service_still_needs() -> None:
    differences = check_deploy_files(WITH_SHIPPING, ROOT)
    assert {(difference.file, difference.service) for difference in differences} == {
        (COMPOSE_FILE, "shipping"),
        (COMPOSE_FILE, "gateway"),  # the entry point calls every public API
        (PROMETHEUS_FILE, "shipping"),
        (DATABASES_FILE, "shipping"),
        (DOCKERFILE, "shipping"),
    }
    said = "\n".join(str(difference) for difference in differences)
    assert "command [serve, shipping] on port 8005" in said
    assert "gateway: set GATEWAY_SHIPPING_URL: http://shipping:8005" in said
    assert "gateway: depends_on shipping" in said
    assert "add a scrape job shipping → shipping:8005" in said
    assert "add CREATE DATABASE shipping;" in said
    assert "add 8005 to EXPOSE" in said


def _copy_deploy_files(target: Path) -> Path:
    for name in DEPLOY_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, target / name)
    return target


def _add_shipping(root: Path) -> None:
    """The edits the check asked for, made as a person adding the service would."""
    compose = yaml.safe_load((root / COMPOSE_FILE).read_text())
    shipping = dict(compose["services"]["payments"])
    shipping["command"] = ["serve", "shipping"]
    shipping["environment"] = {
        **{key: value for key, value in shipping["environment"].items() if "PAYMENTS" not in key},
        "SHIPPING_HOST": "0.0.0.0",
        "SHIPPING_DATABASE_URL": "postgresql+asyncpg://minishop:minishop@postgres:5432/shipping",
        "SHIPPING_ORDERS_URL": "http://orders:8003",
    }
    shipping["expose"] = ["8005"]
    shipping["healthcheck"] = {
        **shipping["healthcheck"],
        "test": ["CMD", "python", "-c", "u.urlopen('http://127.0.0.1:8005/health/ready')"],
    }
    compose["services"]["shipping"] = shipping
    compose["services"]["gateway"]["environment"]["GATEWAY_SHIPPING_URL"] = "http://shipping:8005"
    compose["services"]["gateway"]["depends_on"]["shipping"] = {"condition": "service_healthy"}
    (root / COMPOSE_FILE).write_text(yaml.safe_dump(compose))
    prometheus = yaml.safe_load((root / PROMETHEUS_FILE).read_text())
    prometheus["scrape_configs"].append(
        {"job_name": "shipping", "static_configs": [{"targets": ["shipping:8005"]}]}
    )
    (root / PROMETHEUS_FILE).write_text(yaml.safe_dump(prometheus))
    with (root / DATABASES_FILE).open("a") as sql:
        sql.write("CREATE DATABASE shipping;\n")
    dockerfile = (root / DOCKERFILE).read_text()
    (root / DOCKERFILE).write_text(
        re.sub(r"^EXPOSE (.*)$", r"EXPOSE \1 8005", dockerfile, flags=re.M)
    )


def test_once_the_named_edits_are_made_the_files_agree_again(tmp_path: Path) -> None:
    root = _copy_deploy_files(tmp_path)
    _add_shipping(root)
    assert [str(difference) for difference in check_deploy_files(WITH_SHIPPING, root)] == []
    # The same files now differ from the real manifest by the extra service, named.
    extra = {(d.file, d.service) for d in check_deploy_files(MANIFEST, root)}
    assert extra == {
        (COMPOSE_FILE, "shipping"),
        (PROMETHEUS_FILE, "shipping"),
        (DATABASES_FILE, "shipping"),
        (DOCKERFILE, "8005"),
    }


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["services"]["orders"]["environment"].pop("ORDERS_USERS_URL"),
         "orders: set ORDERS_USERS_URL: http://users:8001"),
        (lambda c: c["services"]["payments"].update(expose=["8009"]),
         "payments: expose (or publish) port 8004"),
        (lambda c: c["services"]["users"].update(ports=["8001:8001"]),
         "users: publishes a port"),
        (lambda c: c["services"]["gateway"]["depends_on"].pop("payments"),
         "gateway: depends_on payments"),
        (lambda c: c["services"]["products"]["environment"].pop("MINISHOP_ADMIN_TOKEN"),
         "products: set MINISHOP_ADMIN_TOKEN"),
        (lambda c: c["services"]["orders"]["environment"].update(
            ORDERS_DATABASE_URL="postgresql+asyncpg://minishop:minishop@postgres:5432/users"),
         "orders: set ORDERS_DATABASE_URL to the PostgreSQL database orders"),
        (lambda c: c["services"].pop("slack-receiver"), "slack-receiver: missing"),
    ],
)  # fmt: skip
def test_a_compose_file_that_drifts_from_the_manifest_is_named(
    tmp_path: Path, edit: object, expected: str
) -> None:
    root = _copy_deploy_files(tmp_path)
    compose = yaml.safe_load((root / COMPOSE_FILE).read_text())
    edit(compose)  # type: ignore[operator]
    (root / COMPOSE_FILE).write_text(yaml.safe_dump(compose))
    said = [str(difference) for difference in check_deploy_files(MANIFEST, root)]
    assert any(line.startswith(f"{COMPOSE_FILE}: {expected}") for line in said), said


def test_a_settings_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_USERS_URL", "users:8001")
    with pytest.raises(ValueError, match="ORDERS_USERS_URL: use an http:// or https:// URL"):
        settings_type(MANIFEST.service("orders"))()
    monkeypatch.setenv("ORDERS_USERS_URL", "http://users.internal:9001/")
    settings = settings_type(MANIFEST.service("orders"))()
    assert settings.url_of(MANIFEST.service("users")) == "http://users.internal:9001"
    assert settings.url_of(MANIFEST.service("products")) == "http://127.0.0.1:8002"
