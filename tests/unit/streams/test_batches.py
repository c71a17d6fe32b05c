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
    outbox = Collector(codec, CONTRIBUTIONS)
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
    name, batch = codec.decode(sent[1][1])
    assert name == "ContributionBatch" and batch["timestamp"] == WHEN + dt.timedelta(seconds=3)


def test_the_same_requests_make_the_same_batch_id_and_others_another():
    codec = catalog()

    def batch_id(offsets) -> str:
        outbox = Collector(codec, CONTRIBUTIONS)
        for n in offsets:
            outbox.add(request("jp-a", n))
        return str(codec.decode(next(outbox.drain())[1])[1]["event_id"])

    assert batch_id([1, 2, 3]) == batch_id([1, 2, 3])
    assert len({batch_id([1, 2, 3]), batch_id([1, 2]), batch_id([2, 3]), batch_id([1, 3])}) == 4


def test_a_bad_item_is_reported_alone_and_a_lone_request_still_reads():
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
