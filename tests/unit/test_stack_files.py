"""The Compose stack and its configuration files, checked without a Docker engine.

Each file is parsed and checked for what its tool requires and for the references
between files (a datasource uid a dashboard uses, a volume a service mounts, a host
name a URL points at), which is where such stacks usually break.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
import yaml

from minishop.cli.loading import settings_type
from minishop.manifest import MANIFEST

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SHOP = MANIFEST.names
# Reached through the gateway only: on the Compose network, never published.
PRIVATE = tuple(entry.name for entry in MANIFEST.public)
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = yaml.safe_load(
    (DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text()
)["datasources"]


def test_every_container_has_a_pinned_image_and_a_healthcheck() -> None:
    assert set(SHOP) | {
        "postgres", "otel-collector", "prometheus", "alertmanager", "loki", "jaeger", "grafana"
    } <= set(SERVICES)  # fmt: skip
    for name, service in SERVICES.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: {image} is not a version"
        assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert service.get("restart") == "unless-stopped", name


def test_start_order_waits_for_health_and_has_no_cycle() -> None:
    graph = {}
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dependency, rule in depends.items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            assert rule["condition"] == "service_healthy", f"{name} → {dependency}"
        graph[name] = set(depends)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"start order has a cycle: {exc}")
    assert order.index("postgres") < order.index("orders") < order.index("payments")
    assert order.index("payments") < order.index("gateway")


def test_volumes_and_build_contexts_exist() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert (context / "Dockerfile").is_file(), f"{name}: no Dockerfile in {context}"
    assert used == declared, "every declared volume is used"


def test_published_ports_are_the_contract_ports() -> None:
    published = {}
    for name, service in SERVICES.items():
        for mapping in service.get("ports", []):
            host = int(mapping.split(":")[0])
            assert host not in published, f"port {host} published twice"
            published[host] = name
    assert {port: published.get(port) for port in (3000, 16686, 9090, 9093, 8080)} == {
        3000: "grafana", 16686: "jaeger", 9090: "prometheus", 9093: "alertmanager",
        8080: "gateway",
    }  # fmt: skip
    assert not set(published.values()) & set(PRIVATE), "a service port is published"


def _interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}`` with NAME unset: what a plain ``docker compose up`` uses."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


@pytest.mark.parametrize("name", PRIVATE)
def test_service_ports_stay_on_the_compose_network(name: str) -> None:
    service = SERVICES[name]
    assert "ports" not in service, f"{name} publishes {service['ports']}"
    port = str(settings_type(MANIFEST.service(name)).model_fields["port"].default)
    assert [str(item) for item in service["expose"]] == [port]


@pytest.mark.parametrize("name", [entry.name for entry in MANIFEST if entry.holds_credentials])
def test_every_shop_container_gets_the_shared_tokens(name: str) -> None:
    environment = SERVICES[name]["environment"]
    tokens = {}
    for variable in ("MINISHOP_INTERNAL_TOKEN", "MINISHOP_ADMIN_TOKEN"):
        raw = str(environment[variable])
        assert raw.startswith(f"${{{variable}:-"), f"{name}: {variable} is not overridable"
        tokens[variable] = _interpolate(raw)
    assert tokens["MINISHOP_INTERNAL_TOKEN"] != tokens["MINISHOP_ADMIN_TOKEN"]
    assert all(tokens.values())


@pytest.mark.parametrize("name", SHOP)
def test_each_shop_container_gets_settings_its_service_accepts(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = SERVICES[name]
    assert service["command"] == ["serve", name]
    environment = {key: _interpolate(str(value)) for key, value in service["environment"].items()}
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = settings_type(MANIFEST.service(name))()
    assert settings.host == "0.0.0.0"
    assert str(settings.port) in service["healthcheck"]["test"][-1]
    reachable_at = service["expose"] if name in PRIVATE else service["ports"]
    assert any(str(mapping).endswith(str(settings.port)) for mapping in reachable_at)
    if MANIFEST.service(name).holds_credentials:
        assert settings.internal_token is not None
        assert settings.admin_token is not None
    else:  # the gateway faces clients and the Slack receiver guards nothing: no credential
        assert settings.internal_token is None
        assert settings.admin_token is None
    if MANIFEST.service(name).owns_database:
        assert settings.database_url.startswith("postgresql+asyncpg://")
        database = settings.database_url.rsplit("/", 1)[1]
        assert f"CREATE DATABASE {database};" in (DEPLOY / "postgres" / "init.sql").read_text()
    for key, value in environment.items():
        if key.endswith("_URL"):
            host = re.match(r"\w[\w+]*://(?:[^@/]*@)?([\w-]+)", value).group(1)
            assert host in SERVICES, f"{name}: {key} points at unknown host {host}"


def test_the_service_image_runs_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    for base in re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE):
        assert re.search(r":\d", base), f"unpinned base image {base}"
    # A named volume starts as a copy of the image's folder: it must exist, owned by the
    # user, or the Slack receiver (and SQLite, without a database URL) cannot write.
    volumes = re.findall(r'^VOLUME\s+\["([^"]+)"\]', dockerfile, flags=re.MULTILINE)
    for volume in volumes:
        assert re.search(rf"install -d -o {users[-1]} -g {users[-1]} {volume}\b", dockerfile)


def test_the_collector_takes_otlp_and_sends_traces_to_jaeger_and_logs_to_loki_and_both_to_the_console() -> (
    None
):
    config = yaml.safe_load((DEPLOY / "otel-collector" / "config.yml").read_text())
    assert {"grpc", "http"} <= set(config["receivers"]["otlp"]["protocols"])
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "logs"}
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline[kind]:
                assert component in config[kind], f"{component} is not defined"
        assert pipeline["processors"][0] == "memory_limiter"
    traces_exporter, traces_copy = pipelines["traces"]["exporters"]
    assert config["exporters"][traces_exporter]["endpoint"].startswith("jaeger:")
    logs_exporter, logs_copy = pipelines["logs"]["exporters"]
    assert config["exporters"][logs_exporter]["endpoint"] == "http://loki:3100/otlp"
    assert traces_copy == logs_copy
    assert config["exporters"][traces_copy]["endpoint"] == "http://console:4318"
    assert SERVICES["console"]["expose"] == ["4318"]
    app = config["processors"]["resource/app"]["attributes"]
    assert {"key": "app", "value": "minishop", "action": "upsert"} in app
    for extension in config["service"]["extensions"]:
        assert extension in config["extensions"]
    assert "13133" in SERVICES["otel-collector"]["healthcheck"]["test"][-1]


def test_loki_indexes_the_app_label_and_accepts_otlp() -> None:
    config = yaml.safe_load((DEPLOY / "loki" / "loki.yml").read_text())
    assert config["auth_enabled"] is False
    assert config["server"]["http_listen_port"] == 3100
    assert config["schema_config"]["configs"][0]["schema"] == "v13"
    limits = config["limits_config"]
    assert limits["allow_structured_metadata"] is True
    rules = limits["otlp_config"]["resource_attributes"]["attributes_config"]
    assert {"action": "index_label", "attributes": ["app"]} in rules


def test_grafana_datasources_link_the_three_pillars() -> None:
    by_uid = {source["uid"]: source for source in DATASOURCES}
    assert {"prometheus", "loki", "jaeger"} <= set(by_uid)
    for source in DATASOURCES:
        assert {"name", "type", "uid", "url", "access"} <= set(source), source["name"]
        host = re.match(r"https?://([\w-]+):", source["url"]).group(1)
        assert host in SERVICES, f"{source['name']} points at unknown host {host}"
    exemplars = by_uid["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert exemplars == [
        {"name": "trace_id", "datasourceUid": "jaeger", "urlDisplayLabel": "Open trace in Jaeger"}
    ]
    for field in by_uid["loki"]["jsonData"]["derivedFields"]:
        assert field["datasourceUid"] == "jaeger"
        assert field["url"] == "$${__value.raw}"  # `$$`: a literal `$` in provisioning
    to_logs = by_uid["jaeger"]["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "loki"
    assert '{app="minishop"}' in to_logs["query"] and "$${__trace.traceId}" in to_logs["query"]


def test_dashboard_provisioning_points_at_the_mounted_dashboards() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )["providers"][0]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in SERVICES["grafana"]["volumes"][:2])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (DEPLOY / "grafana" / "dashboards" / Path(home).name).is_file()


def _panels(dashboard: dict) -> list[dict]:
    found, pending = [], list(dashboard["panels"])
    while pending:
        panel = pending.pop(0)
        found.append(panel)
        pending.extend(panel.get("panels", []))
    return found


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_each_dashboard_is_valid_grafana_json(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert {"uid", "title", "panels", "schemaVersion", "templating", "time"} <= set(dashboard)
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    panels = _panels(dashboard)
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids are unique"
    datasource_uids = {source["uid"] for source in DATASOURCES}
    for panel in panels:
        assert panel["type"] in {"row", "timeseries", "stat"}, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] in datasource_uids
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in datasource_uids
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, f"{panel['title']}: undefined {used - variables}"


def test_dashboards_cover_overview_golden_signals_business_and_runtime() -> None:
    dashboards = {
        json.loads(path.read_text())["uid"]: json.loads(path.read_text()) for path in DASHBOARDS
    }
    assert set(dashboards) == {
        "minishop-overview", "minishop-golden-signals", "minishop-business", "minishop-runtime"
    }  # fmt: skip
    overview = {panel["title"]: panel for panel in _panels(dashboards["minishop-overview"])}
    errors = overview["Error rate by service"]
    steps = errors["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"color": "red", "value": 0.1} in steps
    assert errors["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"
    assert any(target["exemplar"] for target in overview["p95 latency by service"]["targets"])
    golden = dashboards["minishop-golden-signals"]
    assert [variable["name"] for variable in golden["templating"]["list"]] == ["service"]


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    name = "minishop_dashboard_generator"
    spec = importlib.util.spec_from_file_location(name, DEPLOY / "grafana" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    sys.modules[name] = generate  # dataclasses look their module up there
    spec.loader.exec_module(generate)
    rendered = generate.render()
    assert sorted(rendered) == [path.name for path in DASHBOARDS]
    for name, text in rendered.items():
        assert (DEPLOY / "grafana" / "dashboards" / name).read_text() == text, (
            f"{name} differs: run deploy/grafana/generate.py"
        )


def test_the_prometheus_of_the_stack_scrapes_the_compose_hosts() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            host, port = target.split(":")
            if host != "localhost":
                assert host in SERVICES, f"{job['job_name']} scrapes unknown host {host}"
                listening = [*SERVICES[host].get("ports", []), *SERVICES[host].get("expose", [])]
                assert any(str(m).split(":")[-1] == port for m in listening), target


def test_the_wheel_the_image_installs_carries_the_migrations(tmp_path: Path) -> None:
    # Built from a clean copy, as `docker build` does: a build/ folder left in the
    # checkout by an earlier build would hide files the package data rules miss.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path / "wheel"), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("minishop-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    needed = [
        path.relative_to(ROOT / "src").as_posix()
        for path in (ROOT / "src" / "minishop").rglob("*")
        if path.suffix in {".py", ".mako", ".ini"} and "__pycache__" not in path.parts
    ]
    missing = [path for path in needed if path not in packed]
    assert not missing, f"not in the wheel: {missing}"
