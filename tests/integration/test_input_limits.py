"""Hostile provider input against a real worker: a 700 KB BetPlaced (its bet_amount alone once held
the event loop ~30 s, past the session timeout) and bets with a NUL or an over-long id (PostgreSQL
refuses NUL in text; the ledger sink then retried the row forever) are dead-lettered with a clear
reason, the dead letter of the big one fits the broker, and every valid bet around them is applied.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
from decimal import Decimal

import asyncpg
import fastavro
import pytest

from jackpot.streams.codec import catalog
from jackpot.streams.kafka import producer
from jackpot.streams.publish import publish_configs

from .conftest import wait_for
from .helpers import read_events
from .portfolio import Oracle, bets, portfolio

pytestmark = pytest.mark.integration

N_BETS = 600


def huge_amount(template: dict, size: int) -> bytes:
    """A BetPlaced whose bet_amount carries ``size`` bytes (no encoder writes that: forged)."""
    codec = catalog()
    schema = codec.by_name["BetPlaced"]
    doc = copy.deepcopy(schema.doc)
    next(f for f in doc["fields"] if f["name"] == "bet_amount")["type"] = "bytes"
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(doc, named_schemas={}),
                               dict(template, bet_amount=b"\x01" + b"\x00" * (size - 1)))
    return schema.header + buf.getvalue()


async def test_hostile_bets_are_dead_lettered_and_the_rest_applied(settings, spawn, tmp_path):
    docs = portfolio(2, seed=41)
    await publish_configs(settings, docs)
    good = bets(N_BETS, seed=43)
    oracle = Oracle(docs)
    for b in good:
        oracle.apply(b)
    worker = spawn("limits-worker", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w"))

    codec = catalog()
    # copies of bets a jackpot applies: let through, each would reach the ledger
    applied = {bid for ids in oracle.applied.values() for bid in ids}
    template = [b for b in good if b["event_id"] in applied]
    big = huge_amount(template[0], 700 * 1024)
    hostile = [
        (big, "over the 4096-byte limit"),
        (codec.encode("BetPlaced", dict(template[1], event_id="00000000-0000-4000-8000-000000000001",
                                        player_id="p\x00nul")),
         "player_id: contains a control character (NUL at position 1)"),
        (codec.encode("BetPlaced", dict(template[2], event_id="00000000-0000-4000-8000-000000000002",
                                        session_id="s" * 500)),
         "session_id: 500 characters, more than the limit of 128"),
    ]
    topic = settings.topic("bets")
    async with producer(settings) as prod:
        futures = []
        for i, b in enumerate(good):
            futures.append(await prod.send(topic, key=b["player_id"].encode(), value=codec.encode("BetPlaced", b)))
            if i % 200 == 100:
                value, _ = hostile[i // 200]
                futures.append(await prod.send(topic, key=b"hostile", value=value))
        await asyncio.gather(*futures)

    expected = {(jid, bid) for jid, ids in oracle.applied.items() for bid in ids}
    conn = await asyncpg.connect(settings.database_url)
    try:
        ids = [d["jackpot_id"] for d in docs]

        async def ledger_complete():
            n = await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = ANY($1)", ids)
            return n >= len(expected)

        await wait_for(ledger_complete, timeout=180, interval=1.0, what="ledger")
        rows = await conn.fetch("SELECT jackpot_id, bet_id::text FROM contributions WHERE jackpot_id = ANY($1)", ids)
    finally:
        await conn.close()
    assert {(r[0], r[1]) for r in rows} == expected

    async def letters():
        got = [dl for dl in await read_events(settings, settings.topic("dead-letters")) if dl["source_topic"] == topic]
        return got if len(got) >= len(hostile) else None

    got = await wait_for(letters, timeout=60, what="dead letters")
    assert len(got) == len(hostile)
    for (value, words), dl in zip(hostile, sorted(got, key=lambda d: d["source_offset"])):
        assert words in dl["reason"], (words, dl["reason"])
        assert dl["stage"] == "router"
        if value is big:  # kept in part, with what identifies the whole
            assert dl["value"] == big[:256 * 1024]
            assert f"of {len(big)} bytes" in dl["reason"] and hashlib.sha256(big).hexdigest() in dl["reason"]
        else:
            assert dl["value"] == value
    assert worker.alive(), worker.log_tail()
    assert "agent crashed" not in worker.log_path.read_text(errors="replace")
