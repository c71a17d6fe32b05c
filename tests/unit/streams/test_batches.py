"""Batched framing (router to jackpot agent here): one ContributionBatch per jackpot per router batch,
read back in order."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from jackpot.streams.batches import CONTRIBUTIONS, Collector
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.pipeline import Pipeline

WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)


def bet(n: int) -> dict:
    return {"event_id": str(uuid.UUID(int=n)), "timestamp": WHEN + dt.timedelta(seconds=n), "player_id": f"p{n}",
            "game_id": "g", "brand_id": "b", "currency": "EUR", "bet_amount": Decimal("1.50"),
            "bet_type": "REAL", "session_id": "s"}


def request(jackpot_id: str, n: int) -> dict:
    return Pipeline.contribution_request(jackpot_id, bet(n), partition=n % 2, offset=n,
                                        received=int((WHEN + dt.timedelta(seconds=n)).timestamp() * 1000))


def test_one_message_per_jackpot_with_its_requests_in_routing_order():
    codec = catalog()
    outbox = Collector(CONTRIBUTIONS)
    for n in range(5):
        outbox.add(request("jp-a", n))
        if n % 2:
            outbox.add(request("jp-b", n))
    assert len(outbox) == 7
    sent = list(outbox.drain())
    assert [(k, n) for k, _, n in sent] == [(b"jp-a", 5), (b"jp-b", 2)]
    assert len(outbox) == 0 and list(outbox.drain()) == []
    a = CONTRIBUTIONS.items_in(codec, sent[0][1])
    assert [r["source_offset"] for r in a] == [0, 1, 2, 3, 4]
    assert {r["jackpot_id"] for r in a} == {"jp-a"}
    name, batch = CONTRIBUTIONS.decode(codec, sent[1][1])
    assert name == "ContributionBatch" and batch["timestamp"] == WHEN + dt.timedelta(seconds=3)


def test_the_same_requests_make_the_same_batch_id_and_others_another():
    codec = catalog()

    def batch_id(offsets) -> str:
        outbox = Collector(CONTRIBUTIONS)
        for n in offsets:
            outbox.add(request("jp-a", n))
        return str(CONTRIBUTIONS.decode(codec, next(outbox.drain())[1])[1]["event_id"])

    assert batch_id([1, 2, 3]) == batch_id([1, 2, 3])
    assert len({batch_id([1, 2, 3]), batch_id([1, 2]), batch_id([2, 3]), batch_id([1, 3])}) == 4


def test_an_avro_batch_as_written_before_still_reads_and_a_bad_item_is_reported_alone():
    codec = catalog()
    good = codec.encode("ContributionRequest", request("jp-a", 1))
    batch = {"event_id": str(uuid.uuid4()), "timestamp": WHEN, "jackpot_id": "jp-a",
             "requests": [good, b"\xc3\x01garbage", good]}
    name, record = codec.decode(codec.encode("ContributionBatch", batch))
    items = list(CONTRIBUTIONS.unpack(codec, name, record))
    assert [type(r) for _, r in items] == [dict, DecodeError, dict]
    assert items[1][0] == b"\xc3\x01garbage"
    with pytest.raises(DecodeError):
        CONTRIBUTIONS.items_in(codec, codec.encode("ContributionBatch", batch))
    assert [str(r["bet_id"]) for r in CONTRIBUTIONS.items_in(codec, good)] == [str(uuid.UUID(int=1))]


def test_compact_items_read_back_as_an_avro_decode_gives_them():
    codec = catalog()
    outbox = Collector(CONTRIBUTIONS)
    req = request("jp-a", 7) | {"segments": ["vip"], "loyalty_tier": 2, "kyc_verified": True,
                               "session_spins": 9, "session_started_at": 123}
    outbox.add(req)
    [(_, value, _)] = outbox.drain()
    [compact_item] = CONTRIBUTIONS.items_in(codec, value)
    [avro_item] = CONTRIBUTIONS.items_in(codec, codec.encode("ContributionRequest", req))
    assert compact_item == {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in avro_item.items()}
    assert isinstance(compact_item["bet_amount"], Decimal) and compact_item["bet_amount"] == Decimal("1.5")


def test_the_ledger_takes_integer_micros_and_gives_decimals():
    from jackpot.streams.batches import LEDGER

    codec = catalog()
    entry = {"event_id": str(uuid.UUID(int=9)), "timestamp": WHEN, "jackpot_id": "jp", "bet_id": str(uuid.UUID(int=8)),
             "player_id": "p", "game_id": "g", "brand_id": "b", "currency": "EUR", "bet_amount": 2_500_000,
             "gross_amount": 50_000, "house_cut_amount": 1, "bet_timestamp": WHEN,
             "levels": [{"level_id": "mini", "net_amount": 49_999, "visible_amount": 40_000, "hidden_amount": 9_999,
                         "overflow_amount": 0, "pending_amount": 0, "transfer_in_amount": 0}]}
    outbox = Collector(LEDGER)
    outbox.add(entry)
    [item] = LEDGER.items_in(codec, next(outbox.drain())[1])
    assert item["bet_amount"] == Decimal("2.500000") and item["house_cut_amount"] == Decimal("0.000001")
    assert item["levels"][0]["hidden_amount"] == Decimal("0.009999") and item["timestamp"] == WHEN


def test_a_reader_maps_columns_by_name_fills_defaults_and_ignores_unknown_ones():
    """Schema evolution: a writer without a field the reader has (with a default), and with a field
    the reader does not know, reads as Avro resolution would."""
    from jackpot.streams import compact

    codec = catalog()
    columns = CONTRIBUTIONS.columns
    req = request("jp-a", 1)
    header = [c for c in columns.header() if c != "vip_tier"] + ["added_later"]
    row = [v for c, v in zip(columns.header(), columns.row(req)) if c != "vip_tier"] + [42]
    value = compact.pack("ContributionBatch", "id", 0, "jp-a", header, [row])
    [item] = CONTRIBUTIONS.items_in(codec, value)
    assert item["vip_tier"] == "" and "added_later" not in item and item["source_offset"] == 1


def test_a_bad_compact_row_is_reported_alone_with_its_own_bytes():
    from jackpot.streams import compact

    codec = catalog()
    columns = CONTRIBUTIONS.columns
    good = columns.row(request("jp-a", 1))
    bad = list(good)
    bad[columns.names.index("bet_amount")] = "lots"
    value = compact.pack("ContributionBatch", "id", 0, "jp-a", columns.header(), [good, bad, good[:3]])
    name, record = CONTRIBUTIONS.decode(codec, value)
    items = list(CONTRIBUTIONS.unpack(codec, name, record))
    assert [type(r) for _, r in items] == [dict, DecodeError, DecodeError]
    assert compact.is_compact(items[1][0]) and b"lots" in items[1][0]
    for garbage in (compact.MAGIC + b"{", compact.MAGIC + b"[]", compact.MAGIC + b'{"c":[],"r":[]}'):
        with pytest.raises(DecodeError):
            CONTRIBUTIONS.decode(codec, garbage)
    with pytest.raises(DecodeError):  # a compact ledger batch is not a contribution batch
        CONTRIBUTIONS.decode(codec, compact.pack("ContributionAppliedBatch", "id", 0, "jp", [], []))


def test_a_record_that_cannot_be_written_fails_when_it_is_added():
    from jackpot.streams.codec import EncodeError

    outbox = Collector(CONTRIBUTIONS)
    with pytest.raises(EncodeError):
        outbox.add(request("jp-a", 1) | {"bet_amount": Decimal("0.0000001")})
    with pytest.raises(EncodeError):
        outbox.add(request("jp-a", 1) | {"bet_amount": Decimal("1e30")})


def test_any_message_decodes_whatever_its_framing():
    from jackpot.streams.batches import decode_message

    codec = catalog()
    outbox = Collector(CONTRIBUTIONS)
    outbox.add(request("jp-a", 1))
    value = next(outbox.drain())[1]
    assert decode_message(codec, value)[0] == "ContributionBatch"
    assert decode_message(codec, codec.encode("ContributionRequest", request("jp-a", 1)))[0] == "ContributionRequest"


def test_a_jackpots_items_are_split_into_messages_the_broker_takes_in_order():
    from jackpot.streams import batches

    codec = catalog()
    outbox = Collector(CONTRIBUTIONS)
    n = 2 * batches.MAX_BATCH_ITEMS + 500
    for k in range(n):
        outbox.add(request("jp-a", k) | {"segments": ["s" * 200] * 3})  # rows of about 1 KB
    sent = list(outbox.drain())
    assert len(sent) > 3 and sum(items for _, _, items in sent) == n
    assert all(len(value) <= batches.MAX_BATCH_BYTES for _, value, _ in sent)
    offsets = [r["source_offset"] for _, value, _ in sent for r in CONTRIBUTIONS.items_in(codec, value)]
    assert offsets == list(range(n))
    ids = [CONTRIBUTIONS.decode(codec, value)[1]["event_id"] for _, value, _ in sent]
    assert len(set(ids)) == len(ids)


def test_the_other_inputs_sharing_the_contributions_log_hold_no_contribution_requests():
    codec = catalog()
    tick = codec.encode("ClockTick", {"event_id": str(uuid.UUID(int=3)), "timestamp": WHEN, "partition": 0,
                                      "sequence": 1, "interval_ms": 1000})
    assert CONTRIBUTIONS.items_in(codec, tick) == []
    name, record = codec.decode(tick)
    assert list(CONTRIBUTIONS.unpack(codec, name, record)) == []
