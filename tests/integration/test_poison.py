"""Poison messages: one bad message per 1,000 bets goes to the dead-letter topic, whole, with why.

Every valid bet must still be applied (checked against the pure-engine oracle) and
the worker must keep running.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
import pytest

from jackpot.streams.codec import catalog
from jackpot.streams.kafka import partition_for, producer
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import wait_for
from .helpers import read_events, table_value
from .portfolio import Oracle, bets, portfolio

pytestmark = pytest.mark.integration

N_BETS = 5000


def poison(k: int, template: dict) -> tuple[bytes, str]:
    """The k-th bad message and the words its dead letter's reason must contain."""
    codec = catalog()
    kind = k % 4
    if kind == 0:
        return b"\xffgarbage" + bytes([k % 256]) * 7, "magic"
    if kind == 1:  # a valid Avro record of another schema on the bets topic
        return codec.encode("ClockTick", {"event_id": template["event_id"], "timestamp": template["timestamp"],
                                          "partition": 0, "sequence": k, "interval_ms": 1000}), "unexpected event type"
    if kind == 2:
        return codec.encode("BetPlaced", dict(template, bet_amount=Decimal("-5.00"))), "bet_amount"
    return codec.encode("BetPlaced", dict(template, currency="XX1")), "currency"


async def test_bad_messages_are_dead_lettered_and_good_ones_applied(settings, spawn, tmp_path):
    docs = portfolio(4, seed=3)
    await publish_configs(settings, docs)
    good = bets(N_BETS, seed=5)
    oracle = Oracle(docs)
    for b in good:
        oracle.apply(b)
    worker = spawn("poison-worker", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w"))

    codec = catalog()
    topic = settings.topic("bets")
    bad: list[tuple[bytes, str]] = []
    async with producer(settings) as prod:
        futures = []
        for i, b in enumerate(good):
            futures.append(await prod.send(topic, key=b["player_id"].encode(), value=codec.encode("BetPlaced", b)))
            if i % 1000 == 999:
                value, reason = poison(len(bad), b)
                bad.append((value, reason))
                futures.append(await prod.send(topic, key=b"poison", value=value))
        await asyncio.gather(*futures)

    expected = {(jid, bid) for jid, ids in oracle.applied.items() for bid in ids}
    conn = await asyncpg.connect(settings.database_url)
    try:
        ids = [d["jackpot_id"] for d in docs]
        await wait_for(lambda: _count(conn, ids, len(expected)), timeout=180, interval=1.0, what="ledger")
        rows = await conn.fetch("SELECT jackpot_id, bet_id::text FROM contributions WHERE jackpot_id = ANY($1)", ids)
    finally:
        await conn.close()
    assert {(r[0], r[1]) for r in rows} == expected

    letters = await wait_for(lambda: _letters(settings, len(bad)), timeout=60, what="dead letters")
    by_value = {bytes(dl["value"]): dl for dl in letters if dl["source_topic"] == topic}
    for value, words in bad:
        dl = by_value.get(value)
        assert dl is not None, f"bad message not dead-lettered: {value[:20]!r}"
        assert words in dl["reason"], (words, dl["reason"])
        assert dl["stage"] == "router" and dl["source_offset"] >= 0
    assert worker.alive(), worker.log_tail()


async def _count(conn, ids, want: int) -> bool:
    return await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = ANY($1)", ids) >= want


async def _letters(settings, want: int):
    letters = await read_events(settings, settings.topic("dead-letters"))
    return letters if len(letters) >= want else None





async def test_bad_operator_commands_are_dead_lettered_and_a_good_one_still_applies(settings, spawn, tmp_path):
    """Commands are copied into the jackpots' input log (streams/worker.py ``commands_agent``): one
    without a jackpot key, or keyed as a clock tick (which would fan out to every jackpot of its
    partition), garbage, and any record that is not a command are dead-lettered by the copier."""
    docs = portfolio(1, seed=7)
    jackpot_id = docs[0]["jackpot_id"]
    await publish_configs(settings, docs)
    spawn("commands-worker", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w"))
    await produce_bets(settings, bets(20, seed=9))
    await wait_for(lambda: table_value(settings, TABLE_NAME, jackpot_id.encode(), timeout=10), timeout=120,
                   what="the jackpot's first value")

    codec = catalog()
    pause = {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "jackpot_id": jackpot_id,
             "actor": "operator-1", "reason": "test", "action": "pause"}
    tick_keyed = codec.encode("OperatorCommand", dict(pause, event_id=str(uuid.uuid4()), action="force_drop"))
    async with producer(settings) as prod:
        topic = settings.topic("operator-commands")
        await prod.send_and_wait(topic, key=f"tick:{partition_for(jackpot_id.encode(), settings.partitions)}".encode(),
                                 value=tick_keyed)
        await prod.send_and_wait(topic, key=None, value=tick_keyed)
        await prod.send_and_wait(topic, key=jackpot_id.encode(), value=b"\xffnot a command")
        # a record the admin principal may not put into the input log through its topic
        await prod.send_and_wait(topic, key=jackpot_id.encode(), value=codec.encode("ClockTick", {
            "event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "partition": 0,
            "sequence": 1, "interval_ms": 1000}))
        await prod.send_and_wait(topic, key=jackpot_id.encode(), value=codec.encode("OperatorCommand", pause))

    async def paused():
        changes = await read_events(settings, settings.topic("jackpot-state-changed"), jackpot_id.encode())
        return [c for c in changes if c["new_state"] == "PAUSED" and c["level_id"] is None] or None

    await wait_for(paused, timeout=60, what="the good command applied")
    async def command_letters():
        letters = [dl for dl in await read_events(settings, settings.topic("dead-letters")) if dl["stage"] != "router"]
        return letters if len(letters) >= 4 else None

    letters = await wait_for(command_letters, timeout=60, what="four dead letters")
    assert [dl["stage"] for dl in letters] == ["commands"] * 4
    assert all(dl["source_topic"] == settings.topic("operator-commands") for dl in letters)
    assert "unexpected event type ClockTick" in letters[3]["reason"], letters[3]["reason"]
    assert not await read_events(settings, settings.topic("jackpot-won"), jackpot_id.encode()), \
        "a command keyed as a tick was applied"
