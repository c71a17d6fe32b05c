"""Every schema in avro/ survives a round trip in both framings, money exact at the edges of its scale."""

from __future__ import annotations

import copy
import struct
from decimal import Decimal

import pytest

from jackpot.streams.codec import CONFLUENT_MAGIC, MAGIC, Catalog, EncodeError, RegistryCatalog, load_schemas

from .samples import MemoryRegistry, decimal_fields, normal, sample, schemas, set_path

SCHEMAS = schemas()
NAMES = sorted(SCHEMAS)
SPEC_EVENTS = {
    "BetPlaced",
    "PlayerSessionStart",
    "PlayerSessionEnd",
    "PoolUpdated",
    "JackpotWon",
    "JackpotReseeded",
    "WarnThresholdReached",
    "JackpotStateChanged",
    "PoolApproachingMax",
}
INTERNAL = {
    "ContributionBatch",
    "ContributionAppliedBatch",
    "ContributionRequest",
    "ContributionApplied",
    "OperatorCommand",
    "WalletCreditCommand",
    "WalletCreditResult",
    "ClockTick",
    "PlayerProfile",
    "DeadLetter",
}


@pytest.fixture(scope="module")
def plain() -> Catalog:
    return Catalog(*load_schemas())


@pytest.fixture(scope="module")
def confluent() -> RegistryCatalog:
    return RegistryCatalog(MemoryRegistry(), *load_schemas())


def catalogs(plain, confluent):
    return {"single-object": plain, "confluent": confluent}


def test_every_event_of_the_specification_and_every_internal_one_has_a_schema():
    assert SPEC_EVENTS | INTERNAL <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_envelope_and_money_conventions(name):
    doc = SCHEMAS[name]
    assert doc["namespace"] == "jackpot.events" and doc["name"] == name
    first = [(f["name"], f["type"]) for f in doc["fields"][:4]]
    assert first == [
        ("event_id", {"type": "string", "logicalType": "uuid"}),
        ("event_type", "string"),
        ("event_version", "int"),
        ("timestamp", {"type": "long", "logicalType": "timestamp-millis"}),
    ]
    assert doc["fields"][1]["default"] == name
    assert isinstance(doc["fields"][2]["default"], int) and doc["fields"][2]["default"] >= 1
    assert "payload" not in {f["name"] for f in doc["fields"]}, "events are flat records"
    for path, precision, scale in decimal_fields(doc, name):
        if path.rsplit(".", 1)[-1].endswith(("amount", "win_max")):
            assert (precision, scale) == (20, 6), f"{path}: money is decimal(20,6)"


@pytest.mark.parametrize("framing", ["single-object", "confluent"])
@pytest.mark.parametrize("name", NAMES)
def test_round_trip_keeps_every_field(name, framing, plain, confluent):
    codec = catalogs(plain, confluent)[framing]
    record = sample(SCHEMAS[name], name)
    data = codec.encode(name, record)
    if framing == "confluent":
        assert data[0] == CONFLUENT_MAGIC and struct.unpack(">I", data[1:5])[0] == confluent.ids[name]
    else:
        assert data[:2] == MAGIC
    got_name, back = codec.decode(data)
    assert got_name == name
    assert normal(back) == normal(record)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_fill_the_envelope(name, plain):
    record = sample(SCHEMAS[name], name)
    del record["event_type"], record["event_version"]
    _, back = plain.decode(plain.encode(name, record))
    assert back["event_type"] == name and back["event_version"] == SCHEMAS[name]["fields"][2]["default"]


def _money_cases():
    for name in NAMES:
        for path, precision, scale in decimal_fields(SCHEMAS[name], ""):
            unit = Decimal(1).scaleb(-scale)
            top = Decimal(10) ** (precision - scale) - unit
            for amount in (unit, top, -top, -unit, Decimal(0)):
                yield pytest.param(name, path, amount, id=f"{name}{path}={amount}")


def get_path(record, path: str):
    import re

    node = record
    for name, index, key in re.findall(r"\.(\w+)|\[(\d+)\]|\['(\w+)'\]", path):
        node = node[name or (int(index) if index else key)]
    return node


@pytest.mark.parametrize("name, path, amount", list(_money_cases()))
def test_money_exact_at_the_boundary_of_its_scale(name, path, amount, plain, confluent):
    scale = {p: s for p, _, s in decimal_fields(SCHEMAS[name], "")}[path]
    record = set_path(sample(SCHEMAS[name], name), path, amount)
    for codec in (plain, confluent):
        _, back = codec.decode(codec.encode(name, record))
        assert normal(back) == normal(record)
        got = get_path(back, path)
        assert got == amount and got.as_tuple().exponent == -scale


@pytest.mark.parametrize(
    "name, path, precision, scale",
    [pytest.param(n, p, pr, s, id=f"{n}{p}") for n in NAMES for p, pr, s in decimal_fields(SCHEMAS[n], "")],
)
def test_money_beyond_its_scale_or_precision_is_refused_naming_the_field(name, path, precision, scale, plain):
    finer = Decimal(1).scaleb(-(scale + 1))  # one decimal more than the scale
    with pytest.raises(EncodeError) as exc:
        plain.encode(name, set_path(sample(SCHEMAS[name], name), path, finer))
    assert f"{name}{path}" in str(exc.value)
    assert f"more than the scale {scale}" in str(exc.value)
    too_big = Decimal(10) ** (precision - scale)
    with pytest.raises(EncodeError) as exc:
        plain.encode(name, set_path(sample(SCHEMAS[name], name), path, too_big))
    assert f"{name}{path}" in str(exc.value) and "precision" in str(exc.value)


def test_trailing_zeros_beyond_the_scale_are_not_extra_precision(plain):
    record = sample(SCHEMAS["BetPlaced"], "BetPlaced")
    record["bet_amount"] = Decimal("2.50000000")
    _, back = plain.decode(plain.encode("BetPlaced", record))
    assert back["bet_amount"] == Decimal("2.5") and back["bet_amount"].as_tuple().exponent == -6


def test_an_older_released_version_is_read_with_the_current_schema(tmp_path):
    """Single-object readers know every released fingerprint, so an old producer keeps working."""
    raw, released = load_schemas()
    v1 = copy.deepcopy(raw["PoolUpdated"])
    current = copy.deepcopy(v1)
    current["fields"].append({"name": "cycle_number", "type": ["null", "long"], "default": None})
    old = Catalog({"PoolUpdated": v1})
    new = Catalog({"PoolUpdated": current}, {"PoolUpdated": [(1, v1)]})
    record = sample(v1, "PoolUpdated")
    name, back = new.decode(old.encode("PoolUpdated", record))
    assert name == "PoolUpdated" and back["cycle_number"] is None
    assert normal({k: v for k, v in back.items() if k != "cycle_number"}) == normal(record)
