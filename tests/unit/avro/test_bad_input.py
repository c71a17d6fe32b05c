"""Bad input gets a precise reason naming the field: the worker puts that reason in the dead letter."""

from __future__ import annotations

import copy
import struct
from decimal import Decimal

import pytest

from jackpot.streams.codec import (
    HEADER_LEN,
    AvroCodec,
    Catalog,
    DecodeError,
    EncodeError,
    RegistryCatalog,
    load_schemas,
)
from jackpot.streams.registry import RegistryUnavailable

from .samples import DownRegistry, MemoryRegistry, sample, schemas

SCHEMAS = schemas()
BET = SCHEMAS["BetPlaced"]


@pytest.fixture()
def registry() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture()
def codec(registry) -> RegistryCatalog:
    return RegistryCatalog(registry, *load_schemas())


def bet() -> dict:
    return sample(BET, "BetPlaced", amount=Decimal("2.50"))


def writer(mutate) -> dict:
    """A provider's BetPlaced schema that differs from ours."""
    doc = copy.deepcopy(BET)
    mutate(doc)
    return doc


def field_type(name, new_type):
    def mutate(doc):
        next(f for f in doc["fields"] if f["name"] == name)["type"] = new_type

    return mutate


def drop_field(name):
    def mutate(doc):
        doc["fields"] = [f for f in doc["fields"] if f["name"] != name]

    return mutate


def confluent_frame(schema_id: int, body: bytes) -> bytes:
    return struct.pack(">bI", 0, schema_id) + body


def foreign_bytes(doc: dict, record: dict) -> bytes:
    """Encode ``record`` exactly as a producer with schema ``doc`` would (its own body)."""
    return Catalog({"BetPlaced": doc}).encode("BetPlaced", record)[HEADER_LEN:]


# ------------------------------------------------------------------ truncated
@pytest.mark.parametrize("framing", ["single-object", "confluent"])
def test_every_truncation_names_the_field_where_the_bytes_run_out(framing, codec):
    data = (
        codec.encode("BetPlaced", bet())
        if framing == "confluent"
        else Catalog(*load_schemas()).encode("BetPlaced", bet())
    )
    header = 5 if framing == "confluent" else HEADER_LEN
    fields = [f["name"] for f in BET["fields"]]
    seen = set()
    for cut in range(header, len(data)):
        with pytest.raises(DecodeError) as exc:
            codec.decode(data[:cut])
        reason = str(exc.value)
        assert "truncated" in reason, reason
        field = reason.split(":")[0].removeprefix("BetPlaced.")
        assert field in fields, reason
        seen.add(field)
    assert seen == set(fields)  # a cut inside every field was found and named


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\xc3\x01\x00\x01", "truncated single-object header"),
        (b"\x00\x00\x01", "truncated Confluent header"),
    ],
)
def test_truncated_headers(data, reason, codec):
    with pytest.raises(DecodeError, match=reason):
        codec.decode(data)


# ------------------------------------------------------- unknown id or fingerprint
def test_unknown_fingerprint_is_named(codec):
    with pytest.raises(DecodeError, match="unknown schema fingerprint 0102030405060708"):
        codec.decode(b"\xc3\x01" + bytes(range(1, 9)) + b"\x00")


def test_unknown_schema_id_is_named_and_asked_once(codec, registry):
    body = foreign_bytes(BET, bet())
    for _ in range(3):
        with pytest.raises(DecodeError, match="unknown schema id 4242"):
            codec.decode(confluent_frame(4242, body))
    assert registry.lookups == 1, "a bad producer costs one registry call, not one per message"


def test_confluent_frame_without_a_registry_says_so():
    with pytest.raises(DecodeError, match=r"schema id 7\) but no schema registry is configured"):
        Catalog(*load_schemas()).decode(confluent_frame(7, b"\x00"))


def test_a_registry_outage_is_not_a_bad_message():
    """Valid bets must not be dead-lettered because the registry is down: it is not a DecodeError."""
    registry = DownRegistry()
    codec = RegistryCatalog(registry, *load_schemas())
    other = registry.register(writer(lambda d: d["fields"].append({"name": "x", "type": "int", "default": 0})), "s")
    registry.down = True
    with pytest.raises(RegistryUnavailable):
        codec.decode(confluent_frame(other, foreign_bytes(BET, bet())))
    assert not issubclass(RegistryUnavailable, DecodeError)


# ----------------------------------------------------------------- wrong type
def test_writer_with_a_wrong_field_type_is_refused_naming_the_field(codec, registry):
    doc = writer(field_type("bet_amount", "string"))
    schema_id = registry.register(doc, "provider-bets-value")
    record = dict(bet(), bet_amount="2.50")
    with pytest.raises(DecodeError) as exc:
        codec.decode(confluent_frame(schema_id, foreign_bytes(doc, record)))
    assert str(exc.value).startswith(f"BetPlaced: writer schema id {schema_id} cannot be read: BetPlaced.bet_amount:")
    assert "decimal(20,6)" in str(exc.value)


def test_writer_with_an_incompatible_enum_is_refused_naming_the_field(codec, registry):
    doc = writer(field_type("bet_type", {"type": "enum", "name": "BetType", "symbols": ["real", "bonus", "free_spin"]}))
    schema_id = registry.register(doc, "provider-bets-value")
    with pytest.raises(DecodeError, match=r"BetPlaced\.bet_type: .*free_spin"):
        codec.decode(confluent_frame(schema_id, foreign_bytes(doc, bet())))


def test_an_event_of_another_type_is_refused(codec):
    data = codec.encode("PoolUpdated", sample(SCHEMAS["PoolUpdated"], "PoolUpdated"))
    with pytest.raises(DecodeError, match=r"unexpected event type PoolUpdated \(expected BetPlaced\)"):
        codec.decode(data, expect="BetPlaced")


def test_a_record_this_system_does_not_know_is_refused(codec, registry):
    doc = writer(lambda d: d.update(name="Wager", namespace="com.provider"))
    schema_id = registry.register(doc, "provider-wagers-value")
    with pytest.raises(DecodeError, match="is com.provider.Wager, not an event this system reads"):
        codec.decode(confluent_frame(schema_id, foreign_bytes(BET, bet())))


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("player_id", 42, "BetPlaced.player_id: expected string, got int 42"),
        ("player_id", None, "BetPlaced.player_id: required string is null"),
        ("bet_type", "cash", "BetPlaced.bet_type: 'cash' is not one of real, bonus"),
        ("bet_amount", 2.5, "BetPlaced.bet_amount: expected a Decimal for decimal(20,6), got float 2.5"),
        ("timestamp", "yesterday", "BetPlaced.timestamp: expected a datetime"),
        ("event_id", "not-a-uuid", "BetPlaced.event_id: 'not-a-uuid' is not a UUID"),
    ],
)
def test_encoding_a_wrong_type_names_the_field(field, value, reason, codec):
    with pytest.raises(EncodeError) as exc:
        codec.encode("BetPlaced", dict(bet(), **{field: value}))
    assert str(exc.value).startswith(reason)


def test_unknown_fields_are_refused_not_dropped(codec):
    with pytest.raises(EncodeError, match="BetPlaced: unknown field.*'bet_amout'"):
        codec.encode("BetPlaced", dict(bet(), bet_amout=Decimal(1)))


def test_nested_fields_are_named_with_their_path(codec):
    rec = sample(SCHEMAS["ContributionApplied"], "ContributionApplied")
    rec["levels"][1]["hidden_amount"] = Decimal("0.0000001")
    with pytest.raises(
        EncodeError, match=r"ContributionApplied\.levels\[1\]\.hidden_amount: 1E-7 has 7 decimal places"
    ):
        codec.encode("ContributionApplied", rec)


# -------------------------------------------------------- missing required field
def test_writer_missing_a_required_field_is_refused_naming_it(codec, registry):
    doc = writer(drop_field("player_id"))
    schema_id = registry.register(doc, "provider-bets-value")
    record = {k: v for k, v in bet().items() if k != "player_id"}
    with pytest.raises(DecodeError) as exc:
        codec.decode(confluent_frame(schema_id, foreign_bytes(doc, record)))
    assert "BetPlaced.player_id: missing from the writer schema, and the reader has no default" in str(exc.value)


def test_a_writer_without_an_optional_field_is_fine(codec, registry):
    doc = writer(drop_field("event_version"))  # has a default
    schema_id = registry.register(doc, "provider-bets-value")
    record = {k: v for k, v in bet().items() if k != "event_version"}
    _, back = codec.decode(confluent_frame(schema_id, foreign_bytes(doc, record)))
    assert back["event_version"] == 1 and back["player_id"] == record["player_id"]


def test_encoding_without_a_required_field_names_it(codec):
    record = {k: v for k, v in bet().items() if k != "session_id"}
    with pytest.raises(EncodeError, match=r"^BetPlaced\.session_id: missing required field \(string\)"):
        codec.encode("BetPlaced", record)


# ------------------------------------------------ more decimals than the scale
def test_writer_with_a_finer_money_scale_is_refused_naming_the_field(codec, registry):
    doc = writer(field_type("bet_amount", {"type": "bytes", "logicalType": "decimal", "precision": 22, "scale": 8}))
    schema_id = registry.register(doc, "provider-bets-value")
    record = dict(bet(), bet_amount=Decimal("2.12345678"))
    with pytest.raises(DecodeError) as exc:
        codec.decode(confluent_frame(schema_id, foreign_bytes(doc, record)))
    assert "BetPlaced.bet_amount: writer type decimal(22,8) would be read as decimal(20,6)" in str(exc.value)


def test_encoding_more_decimals_than_the_scale_names_the_field(codec):
    with pytest.raises(
        EncodeError, match=r"^BetPlaced\.bet_amount: 2\.1234567 has 7 decimal places, more than the scale 6"
    ):
        codec.encode("BetPlaced", dict(bet(), bet_amount=Decimal("2.1234567")))


def test_decoded_amount_beyond_the_precision_is_refused(codec):
    """A producer that does not check precision (fastavro does not) cannot slip in a 21-digit amount."""
    # Precision is not part of the canonical form, so this writer has our fingerprint.
    loose = Catalog(
        {
            "BetPlaced": writer(
                field_type("bet_amount", {"type": "bytes", "logicalType": "decimal", "precision": 30, "scale": 6})
            )
        }
    )
    forged = loose.encode("BetPlaced", dict(bet(), bet_amount=Decimal(10) ** 20))
    assert forged[:HEADER_LEN] == Catalog(*load_schemas()).by_name["BetPlaced"].header
    # refused by its length, before fastavro makes a Decimal of it
    with pytest.raises(DecodeError, match=r"^BetPlaced\.bet_amount: a decimal of 11 bytes cannot fit its precision 20"):
        codec.decode(forged)
    # one that fits in bytes but not in digits is refused by its value
    forged = loose.encode("BetPlaced", dict(bet(), bet_amount=Decimal(10) ** 14))
    with pytest.raises(DecodeError, match=r"^BetPlaced\.bet_amount: 100000000000000\.0+ exceeds the precision 20"):
        codec.decode(forged)


# --------------------------------------------------------------- faust codec
def test_faust_codec_uses_the_catalog(monkeypatch, codec):
    import jackpot.streams.codec as module

    monkeypatch.setattr(module, "catalog", lambda: codec)
    c = AvroCodec("BetPlaced")
    data = c.dumps(bet())
    assert data[0] == 0 and c.loads(data)["player_id"] == bet()["player_id"]
    with pytest.raises(DecodeError, match="truncated"):
        c.loads(data[:-3])
    assert AvroCodec().loads(data)["event_type"] == "BetPlaced"
