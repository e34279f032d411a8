"""The fault flag catalog, the flagd file and the source every service reads it through."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from minishop.flags import CATALOG, CpuBurn, FlagSource, Flood, InvalidFlagValue, Latency, flag_spec
from minishop.flags.document import (
    OFF,
    ON,
    SCHEMA,
    default_document,
    read_document,
    switched_off,
    switched_on,
    write_document,
)
from minishop.flags.source import evaluate

CONTRACT_FLAGS = {
    "payment_failure",
    "payment_unreachable",
    "service_latency",
    "product_db_error",
    "orders_memory_leak",
    "cpu_burn",
    "readiness_failure",
    "traffic_flood",
}


def _on(path: Path, name: str, *args: str) -> None:
    spec = flag_spec(name)
    write_document(path, switched_on(read_document(path), spec, spec.parse(args)))


def _bump(path: Path) -> None:
    """A new mtime even within the file system's timestamp resolution."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))


def test_the_catalog_is_contract_section_9() -> None:
    assert {spec.name for spec in CATALOG} == CONTRACT_FLAGS


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.name)
def test_each_flag_takes_its_example_and_reads_it_back(spec) -> None:
    value = spec.parse(spec.example.split())
    typed = spec.value_of(value)
    assert typed is not None
    assert spec.show(typed)
    assert spec.value_of(spec.off) is None  # the off variant means no fault


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("payment_failure", ["101"], "between 0 and 100"),
        ("payment_failure", ["lots"], "must be a number"),
        ("payment_failure", ["1.5"], "whole number"),
        ("payment_unreachable", ["maybe"], "on or off"),
        ("service_latency", ["nowhere", "10"], "unknown service"),
        ("service_latency", ["orders", "-1"], "between"),
        ("service_latency", ["orders/../admin", "10"], "a route is a path"),
        ("service_latency", ["orders"], "expected SERVICE"),
        ("product_db_error", ["0"], "between 1"),
        ("orders_memory_leak", ["999999"], "between 1 and 10240"),
        ("cpu_burn", ["orders", "nan"], "between"),
        ("readiness_failure", ["console"], "unknown service"),
        ("traffic_flood", ["products", "10"], "a route is a path"),
    ],
)
def test_bad_values_are_refused_with_a_reason(name: str, args: list[str], message: str) -> None:
    with pytest.raises(InvalidFlagValue, match=message):
        flag_spec(name).parse(args)


def test_an_unknown_flag_names_the_known_ones() -> None:
    with pytest.raises(InvalidFlagValue, match="payment_failure"):
        flag_spec("payment_failures")


def test_the_default_document_is_a_flagd_document_with_every_flag_off() -> None:
    document = default_document()
    assert document["$schema"] == SCHEMA
    for spec in CATALOG:
        entry = document["flags"][spec.name]
        assert entry["state"] == "ENABLED"
        assert entry["defaultVariant"] == OFF
        assert set(entry["variants"]) == {OFF, ON}
        # flagd insists every variant of a flag has one JSON type
        assert type(entry["variants"][ON]) is type(entry["variants"][OFF])
    assert not evaluate(document, {"service": "orders"}).any()


def test_switching_on_and_off_keeps_the_types_and_the_last_value(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    _on(path, "service_latency", "products/api/v1/products", "300", "50")
    active = evaluate(read_document(path), {"service": "x"})
    assert active.service_latency == Latency("products", "/api/v1/products", 300.0, 50.0)
    spec = flag_spec("service_latency")
    write_document(path, switched_off(read_document(path), spec))
    document = read_document(path)
    assert document["flags"]["service_latency"]["defaultVariant"] == OFF
    assert document["flags"]["service_latency"]["variants"][ON]["ms"] == 300
    assert evaluate(document, {"service": "x"}).service_latency is None


def test_the_file_is_written_whole_and_readable_by_anyone(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "flags.json"
    write_document(path, default_document())
    assert orjson.loads(path.read_bytes())["flags"].keys() == CONTRACT_FLAGS
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir() if p.name != "flags.json.lock"] == ["flags.json"]


def test_targeting_written_by_hand_is_evaluated_per_service(tmp_path: Path) -> None:
    """flagd's own rules work: here, cpu_burn on for orders only, by targeting."""
    document = default_document()
    entry = document["flags"]["cpu_burn"]
    entry["variants"][ON] = {"service": "orders", "ms": 25}
    entry["targeting"] = {"if": [{"==": [{"var": "service"}, "orders"]}, ON, OFF]}
    assert evaluate(document, {"service": "orders"}).cpu_burn == CpuBurn("orders", 25.0)
    assert evaluate(document, {"service": "users"}).cpu_burn is None


def test_junk_values_in_a_hand_edited_file_are_no_fault() -> None:
    document = default_document()
    document["flags"]["traffic_flood"]["variants"][ON] = {"route": "not a path", "rps": 5}
    document["flags"]["traffic_flood"]["defaultVariant"] = ON
    document["flags"]["payment_failure"]["state"] = "DISABLED"
    document["flags"]["payment_failure"]["variants"][ON] = 50
    document["flags"]["payment_failure"]["defaultVariant"] = ON
    active = evaluate(document, {"service": "payments"})
    assert active.traffic_flood is None
    assert active.payment_failure is None


def test_the_source_follows_the_file_and_reports_each_change(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    changes: list[tuple[str, str, object]] = []
    source = FlagSource(path, service="orders", on_change=lambda *c: changes.append(c))
    assert source.refresh() is False  # no file yet: nothing on
    _on(path, "traffic_flood", "/api/v1/products", "60")
    assert source.refresh() is True
    assert source.active.traffic_flood == Flood("/api/v1/products", 60.0)
    assert changes == [("traffic_flood", ON, Flood("/api/v1/products", 60.0))]
    assert source.refresh() is False  # unchanged file: not read again
    spec = flag_spec("traffic_flood")
    write_document(path, switched_off(read_document(path), spec))
    _bump(path)
    assert source.refresh() is True
    assert source.active.traffic_flood is None
    assert changes[-1] == ("traffic_flood", OFF, None)


def test_an_unreadable_file_keeps_the_faults_in_force_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    errors: list[str] = []
    source = FlagSource(path, service="payments", on_error=errors.append)
    _on(path, "payment_failure", "40")
    source.refresh()
    path.write_text('{"flags": ')
    _bump(path)
    assert source.refresh() is False
    assert source.refresh() is False
    assert source.active.payment_failure == 40
    assert len(errors) == 1
    assert "not JSON" in (source.last_error or "")
    snapshot = source.snapshot()
    assert snapshot["error"] == source.last_error
    assert snapshot["flags"]["payment_failure"] == {"variant": ON, "value": "40 % declined"}


@pytest.mark.parametrize(
    ("route", "path", "applies"),
    [
        (None, "/anything", True),
        ("/api/v1/products", "/api/v1/products", True),
        ("/api/v1/products", "/api/v1/products/7", True),
        ("/api/v1/products/1", "/api/v1/products/1", True),
        ("/api/v1/products/1", "/api/v1/products/10", False),
        ("/api/v1/products/{product_id}", "/api/v1/products/10", True),
        ("/api/v1/products/{product_id}", "/api/v1/products", False),
        ("/api/v1/orders", "/api/v1/ordersx", False),
        ("/order", "/order", True),
    ],
)
def test_latency_applies_segment_by_segment(route: str | None, path: str, applies: bool) -> None:
    assert Latency("products", route, 100.0, 0.0).applies("products", path) is applies
    assert Latency("orders", route, 100.0, 0.0).applies("products", path) is False
