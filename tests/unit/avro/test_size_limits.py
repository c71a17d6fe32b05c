"""Providers' input is bounded before it is decoded: fastavro turns a decimal's bytes into a
Decimal in quadratic time (256 KB took ~6 s, 1 MB ~100 s), which blocked the event loop past
the group's session timeout."""

from __future__ import annotations

import copy
import io
import time
from decimal import Decimal

import fastavro
import pytest

from jackpot.streams.codec import (
    DEFAULT_MAX_INPUT_BYTES,
    EXTERNAL_SCHEMAS,
    Catalog,
    DecodeError,
    RegistryCatalog,
    decimal_max_bytes,
    load_schemas,
)

from .samples import MemoryRegistry, sample, schemas

SCHEMAS = schemas()


def raw_bet(amount_bytes: bytes, schema: dict | None = None) -> bytes:
    """A BetPlaced body whose bet_amount carries exactly these bytes (no encoder would write them)."""
    doc = copy.deepcopy(schema or SCHEMAS["BetPlaced"])
    next(f for f in doc["fields"] if f["name"] == "bet_amount")["type"] = "bytes"
    record = sample(SCHEMAS["BetPlaced"], "BetPlaced", amount=Decimal("2.5"))
    record["bet_amount"] = amount_bytes
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(doc, named_schemas={}), record)
    return buf.getvalue()


@pytest.fixture(scope="module")
def codec() -> Catalog:
    return Catalog(*load_schemas())


def test_external_schemas_are_the_providers_input():
    assert EXTERNAL_SCHEMAS == {"BetPlaced", "PlayerProfile", "PlayerSessionStart", "PlayerSessionEnd"}
    assert DEFAULT_MAX_INPUT_BYTES == 4096


def test_an_oversized_bet_is_refused_before_its_body_is_read(codec):
    body = raw_bet(b"\x01" + b"\x00" * (256 * 1024))
    message = codec.by_name["BetPlaced"].header + body
    t0 = time.perf_counter()
    with pytest.raises(DecodeError) as err:
        codec.decode(message, expect="BetPlaced")
    assert time.perf_counter() - t0 < 0.05  # was ~6 s
    assert "BetPlaced: message of" in str(err.value) and "4096-byte limit" in str(err.value)


@pytest.mark.parametrize("name", sorted(EXTERNAL_SCHEMAS))
def test_every_external_schema_is_limited_in_both_framings(name):
    record = sample(SCHEMAS[name], name)
    record["player_id"] = "p" * 5000  # a valid record, just too big
    plain = Catalog(*load_schemas())
    registry = RegistryCatalog(MemoryRegistry(), *load_schemas())
    for codec in (plain, registry):
        with pytest.raises(DecodeError, match="limit"):
            codec.decode(codec.encode(name, record))


def test_internal_batches_are_not_limited(codec):
    record = sample(SCHEMAS["ContributionBatch"], "ContributionBatch")
    record["requests"] = [record["requests"][0]] * 2000
    message = codec.encode("ContributionBatch", record)
    assert len(message) > 3 * DEFAULT_MAX_INPUT_BYTES
    assert codec.decode(message)[0] == "ContributionBatch"


def test_the_limit_is_configurable_and_a_real_bet_fits(codec):
    bet = sample(SCHEMAS["BetPlaced"], "BetPlaced", amount=Decimal("2.5"))
    message = codec.encode("BetPlaced", bet)
    assert len(message) < 512
    assert codec.decode(message)[0] == "BetPlaced"
    tight = Catalog(*load_schemas(), max_input_bytes=len(message) - 1)
    with pytest.raises(DecodeError, match="limit"):
        tight.decode(message)
    unlimited = Catalog(*load_schemas(), max_input_bytes=None)
    assert unlimited.decode(message)[0] == "BetPlaced"


def test_a_decimal_longer_than_its_precision_allows_is_refused_before_conversion():
    # within the message limit of an unlimited codec: the decimal bound alone must hold
    codec = Catalog(*load_schemas(), max_input_bytes=None)
    header = codec.by_name["BetPlaced"].header
    t0 = time.perf_counter()
    with pytest.raises(DecodeError) as err:
        codec.decode(header + raw_bet(b"\x01" + b"\x00" * (256 * 1024)))
    assert time.perf_counter() - t0 < 0.2  # was ~6 s
    assert "BetPlaced.bet_amount" in str(err.value) and "precision 20" in str(err.value)


def test_decimal_bound_accepts_sign_padding_and_the_largest_values():
    codec = Catalog(*load_schemas())
    header = codec.by_name["BetPlaced"].header
    assert decimal_max_bytes(20) == 9
    top = 10**20 - 1  # 99999999999999.999999 unscaled: the largest decimal(20,6)
    for unscaled, width in ((top, 9), (-top, 9), (2_500_000, 32), (-2_500_000, 32)):
        data = unscaled.to_bytes(width, "big", signed=True)
        _, bet = codec.decode(header + raw_bet(data))
        assert bet["bet_amount"] == Decimal(unscaled).scaleb(-6)
    with pytest.raises(DecodeError, match="bet_amount"):
        codec.decode(header + raw_bet((10**21).to_bytes(10, "big", signed=True)))
