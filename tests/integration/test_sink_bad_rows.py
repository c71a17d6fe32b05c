"""Rows the real PostgreSQL refuses as bad data (a NUL in text, a code too long for char(3), a CHECK) are
isolated and dead-lettered, and the rest of their batch is written: the ledger sink used to retry
such a batch forever, stalling its partition.

Each test runs in a private database (created, migrated, dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from decimal import Decimal
from types import SimpleNamespace

import asyncpg
import pytest

from jackpot.settings import Settings
from jackpot.sinks.events import EventSink
from jackpot.sinks.ledger import LedgerWriter, write_with_retry
from jackpot.sinks.migrate import migrate
from jackpot.sinks.service import Sinks, dead_letter_rows, unbatched_items
from jackpot.streams.batches import LEDGER, Collector
from jackpot.streams.codec import catalog

from .conftest import with_db

pytestmark = pytest.mark.integration

WHEN = dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
BAD = {
    7: {"player_id": "p\x00nul"},  # CharacterNotInRepertoireError (text refuses NUL)
    20: {"currency": "EURO"},  # StringDataRightTruncationError: char(3)
    33: {"net": Decimal("0.020000")},  # CheckViolationError: net != visible + hidden + overflow + pending
    34: {"bet_amount": Decimal("-1.000000")},  # CheckViolationError: bet_amount >= 0
}


@contextlib.asynccontextmanager
async def private_database(stack):
    url = Settings().database_url
    name = f"jackpot_badrows_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(with_db(url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = with_db(url, name)
        await migrate(dsn)
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def entry(i: int, jackpot_id: str) -> dict:
    """A ContributionApplied record (as the ledger topic carries it), bad where BAD says so."""
    bad = BAD.get(i, {})
    return {
        "event_id": str(uuid.uuid4()), "timestamp": WHEN, "jackpot_id": jackpot_id, "bet_id": str(uuid.uuid4()),
        "player_id": bad.get("player_id", f"p{i}"), "game_id": "g", "brand_id": "b",
        "currency": bad.get("currency", "EUR"),
        "bet_amount": bad.get("bet_amount", Decimal("2.000000")), "gross_amount": Decimal("0.020000"),
        "house_cut_amount": Decimal("0.000000"), "bet_timestamp": WHEN + dt.timedelta(seconds=i),
        "levels": [{"level_id": "grand", "net_amount": bad.get("net", Decimal("0.010000")),
                    "visible_amount": Decimal("0.010000"), "hidden_amount": Decimal("0.000000"),
                    "overflow_amount": Decimal("0.000000"), "pending_amount": Decimal("0.000000"),
                    "transfer_in_amount": Decimal("0.000000")}],
    }


def ledger_records(jackpot_id: str, n: int) -> list[SimpleNamespace]:
    """The ledger topic's records for ``n`` entries: batched messages, as the jackpot agent sends them
    (the codec never sees PostgreSQL's rules, so the bad entries encode fine)."""
    outbox = Collector(LEDGER)
    for i in range(n):
        outbox.add(entry(i, jackpot_id))
    return [SimpleNamespace(topic="t.ledger", partition=0, offset=o, key=key, value=value, headers=[])
            for o, (key, value, _) in enumerate(outbox.drain())]


async def contributions(dsn: str, jackpot_id: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT player_id FROM contributions WHERE jackpot_id = $1", jackpot_id)
        return {r[0] for r in rows}
    finally:
        await conn.close()


async def test_bad_ledger_rows_are_dead_lettered_and_the_batch_is_written(stack):
    codec = catalog()
    jackpot_id = str(uuid.uuid4())
    letters = []

    async def send(topic, key, value):
        letters.append(codec.decode(value)[1])

    async with private_database(stack) as dsn:
        writer = LedgerWriter(dsn)
        try:
            entries, sources = [], []
            for r in ledger_records(jackpot_id, 50):
                name, rec = LEDGER.decode(codec, r.value)
                for raw, item in await unbatched_items(send, codec, "ledger-sink", r, LEDGER, name, rec):
                    entries.append(item)
                    sources.append((r, raw))
            assert len(entries) == 50
            await asyncio.wait_for(write_with_retry(writer, entries, on_bad=dead_letter_rows(send, "ledger-sink",
                                                                                               sources)), timeout=60)
            assert await contributions(dsn, jackpot_id) == {f"p{i}" for i in range(50) if i not in BAD}
            # a replay of the batch (after a crash before the commit) adds nothing and reports the same rows
            await asyncio.wait_for(write_with_retry(writer, entries, on_bad=dead_letter_rows(send, "ledger-sink",
                                                                                               sources)), timeout=60)
        finally:
            await writer.close()
    assert len(letters) == 2 * len(BAD)
    by_player = {LEDGER.items_in(codec, dl["value"])[0]["player_id"]: dl for dl in letters[:len(BAD)]}
    assert set(by_player) == {"p\x00nul", "p20", "p33", "p34"}
    assert by_player["p\x00nul"]["error_type"] == "CharacterNotInRepertoireError"
    assert by_player["p20"]["error_type"] == "StringDataRightTruncationError"
    assert by_player["p33"]["error_type"] == by_player["p34"]["error_type"] == "CheckViolationError"
    assert "contributions_bet_amount_check" in by_player["p34"]["reason"]
    assert all(dl["stage"] == "ledger-sink" and dl["source_topic"] == "t.ledger" for dl in letters)


async def test_the_ledger_sink_goes_on_past_a_bad_row(stack):
    """Through ``Sinks.write_ledger`` itself: it returns (it looped forever) with the good rows written
    and each refused row dead-lettered."""
    jackpot_id = str(uuid.uuid4())
    sent = []

    async def send(topic, key, value):
        sent.append(topic)

    async with private_database(stack) as dsn:
        sinks = Sinks(Settings(database_url=dsn), send, lambda: [])
        try:
            await asyncio.wait_for(sinks.write_ledger(ledger_records(jackpot_id, 40)), timeout=60)
            assert await contributions(dsn, jackpot_id) == {f"p{i}" for i in range(40) if i not in BAD}
            assert sent.count("dead-letters") == len(BAD)  # each refused row, once
        finally:
            await sinks.ledger.close()
            await sinks.events.close()
            await sinks.live.close()


async def test_bad_engine_events_are_isolated(stack):
    """The event sink: a NUL in a jackpot id, and a \\u0000 in a payload that jsonb refuses."""
    good = [{"event_id": str(uuid.uuid4()), "event_type": "ReportNote", "event_version": 1,
             "timestamp": 1_770_000_000_000 + i, "jackpot_id": "jp", "payload": {"reason": f"r{i}"}} for i in range(20)]
    events = list(good)
    events[4] = dict(good[4], jackpot_id="jp\x00")
    events[11] = dict(good[11], payload={"reason": "a\x00b"})
    refused = []

    async def on_bad(index, exc):
        refused.append((index, type(exc).__name__))

    async with private_database(stack) as dsn:
        sink = EventSink(dsn)
        try:
            await asyncio.wait_for(write_with_retry(sink, events, on_bad=on_bad), timeout=60)
        finally:
            await sink.close()
        conn = await asyncpg.connect(dsn)
        try:
            ids = {str(r[0]) for r in await conn.fetch("SELECT event_id FROM engine_events")}
        finally:
            await conn.close()
    assert [i for i, _ in sorted(refused)] == [4, 11]
    assert ids == {e["event_id"] for i, e in enumerate(good) if i not in (4, 11)}
