"""The Avro wire codec: round trips, money at the edge of its scale, precise refusals."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from jackpot.streams import codec as codec_module
from jackpot.streams.codec import Catalog, DecodeError, EncodeError, RegistryCatalog, registry_url_from_env

CATALOG = Catalog.from_package()


def catalog() -> Catalog:
    """The single-object catalog, whatever SCHEMA_REGISTRY_URL says (unit tests stay offline)."""
    return CATALOG


def bet(**over):
    rec = {
        "event_id": str(uuid.UUID(int=1)),
        "timestamp": dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc),
        "player_id": "p-1", "game_id": "starburst", "brand_id": "brand-royal", "currency": "EUR",
        "bet_amount": Decimal("2.00"), "bet_type": "real", "session_id": "s-1",
    }
    rec.update(over)
    return rec


def test_bet_round_trip_keeps_every_field_exactly():
    name, back = catalog().decode(catalog().encode("BetPlaced", bet()))
    assert name == "BetPlaced"
    assert back["bet_amount"] == Decimal("2.000000")
    assert back["timestamp"] == dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    assert back["event_type"] == "BetPlaced" and back["event_version"] == 1
    assert str(back["event_id"]) == str(uuid.UUID(int=1))


@pytest.mark.parametrize("amount", ["0.000001", "99999999999999.999999", "0"])
def test_money_at_the_edges_of_its_scale(amount):
    _, back = catalog().decode(catalog().encode("BetPlaced", bet(bet_amount=Decimal(amount))))
    assert back["bet_amount"] == Decimal(amount)


def test_more_decimals_than_the_scale_is_refused():
    with pytest.raises(EncodeError, match="BetPlaced"):
        catalog().encode("BetPlaced", bet(bet_amount=Decimal("0.0000001")))


def test_missing_field_is_named():
    rec = bet()
    del rec["player_id"]
    with pytest.raises(EncodeError, match="player_id"):
        catalog().encode("BetPlaced", rec)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty message"),
        (b"garbage!!!!!", "bad magic"),
        (b"\xc3\x01" + b"\x00" * 8 + b"\x02", "unknown schema fingerprint"),
    ],
)
def test_undecodable_messages_say_why(data, reason):
    with pytest.raises(DecodeError, match=reason):
        catalog().decode(data)


def test_truncated_body_is_refused():
    data = catalog().encode("BetPlaced", bet())
    with pytest.raises(DecodeError, match="BetPlaced"):
        catalog().decode(data[:-4])


def test_trailing_bytes_are_refused():
    data = catalog().encode("BetPlaced", bet())
    with pytest.raises(DecodeError, match="trailing"):
        catalog().decode(data + b"\x00")


def test_wrong_event_type_for_the_topic_is_refused():
    data = catalog().encode("BetPlaced", bet())
    with pytest.raises(DecodeError, match="unexpected event type"):
        catalog().decode(data, expect="PoolUpdated")


def test_single_object_header_is_magic_plus_fingerprint():
    data = catalog().encode("BetPlaced", bet())
    assert data[:2] == b"\xc3\x01" and data[2:10] == catalog().by_name["BetPlaced"].fingerprint


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("  ", None),
    (" http://127.0.0.1:18081/apis/ccompat/v7 ", "http://127.0.0.1:18081/apis/ccompat/v7"),
])
def test_registry_url_from_env(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    else:
        monkeypatch.setenv("SCHEMA_REGISTRY_URL", value)
    assert registry_url_from_env() == expected


def test_catalog_picks_the_wire_format_from_the_environment(monkeypatch):
    made = []

    def fake_connect(url, auto_register=True, max_input_bytes=None):
        made.append((url, auto_register, max_input_bytes))
        return "registry-catalog"

    monkeypatch.setattr(RegistryCatalog, "connect", staticmethod(fake_connect))
    codec_module.catalog.cache_clear()
    try:
        monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
        monkeypatch.setenv("JACKPOT_MAX_INPUT_BYTES", "2048")
        plain = codec_module.catalog()
        assert plain.wire_format == "single-object" and plain.max_bytes["BetPlaced"] == 2048
        codec_module.catalog.cache_clear()
        monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://registry:8081")
        monkeypatch.setenv("SCHEMA_REGISTRY_AUTO_REGISTER", "false")
        assert codec_module.catalog() == "registry-catalog"
        assert made == [("http://registry:8081", False, 2048)]
    finally:
        codec_module.catalog.cache_clear()


def test_confluent_framing_without_registry_is_a_precise_refusal():
    with pytest.raises(DecodeError, match=r"Confluent wire format \(schema id 1\) but no schema registry"):
        catalog().decode(b"\x00\x00\x00\x00\x01\x02")


def test_unknown_schema_name_is_an_encode_error():
    with pytest.raises(EncodeError, match="unknown schema 'Bet'"):
        catalog().encode("Bet", bet())
