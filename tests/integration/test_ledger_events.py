"""The PostgreSQL sinks against the real database: replays never duplicate a row.

Each test runs in a private database (created, migrated by the real runner, dropped), so replays,
tampering and counts never see another session's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import pytest

from jackpot.sinks import audit
from jackpot.gateway.admin.publication import publish_config
from jackpot.sinks.events import EventSink
from jackpot.sinks.ledger import LedgerWriter
from jackpot.sinks.migrate import migrate
from jackpot.sinks.rebuild import live_values

from ..unit.sinks.scenario import run
from .conftest import with_db

pytestmark = pytest.mark.integration

TABLES = ("engine_events", "pool_snapshots", "cycles", "reseeds", "wins", "hits", "prizes", "prize_payout_events",
          "warn_state_changes", "jackpot_state_changes", "pool_adjustments", "operator_actions", "win_approvals",
          "win_approval_events", "alerts", "audit_log", "contributions", "contribution_levels")


@contextlib.asynccontextmanager
async def private_database(settings):
    name = f"jackpot_sinks_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(with_db(settings.database_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = with_db(settings.database_url, name)
        await migrate(dsn)
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def snapshot(conn) -> dict[str, list]:
    """Every row of every sink table, without the columns the database stamps (recorded_at...)."""
    out = {}
    for t in TABLES:
        cols = [r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = 'public' "
            "AND column_name NOT IN ('recorded_at') ORDER BY ordinal_position", t)]
        rows = await conn.fetch(f"SELECT {', '.join(cols)} FROM {t}")
        out[t] = sorted(tuple(str(v) for v in r.values()) for r in rows)
    return out


async def test_replaying_the_same_events_twice_leaves_the_same_rows(settings):
    sc = run()
    async with private_database(settings) as dsn:
        sink, ledger = EventSink(dsn), LedgerWriter(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            # in batches of 7, as a sink agent would take them
            new = 0
            for i in range(0, len(sc.events), 7):
                new += await sink.write(sc.events[i:i + 7])
            assert new == len(sc.events)
            assert await ledger.write(sc.ledger) == len(sc.ledger)
            first = await snapshot(conn)
            assert len(first["engine_events"]) == len(sc.events) and len(first["contributions"]) == len(sc.ledger)
            # the whole stream again (another batching), then a batch holding an event twice
            assert await sink.write(sc.events) == 0
            assert await sink.write(sc.events[:3] + sc.events[:3]) == 0
            assert await ledger.write(sc.ledger) == 0
            assert await snapshot(conn) == first
            # the typed tables hold what the scenario did
            assert await conn.fetchval("SELECT count(*) FROM cycles") == 2
            assert await conn.fetchval("SELECT count(*) FROM cycles WHERE revealed_seed IS NOT NULL") == 1
            assert await conn.fetchval("SELECT count(*) FROM cycles WHERE win_target IS NOT NULL") == 1
            w = await conn.fetchrow("SELECT * FROM wins")
            assert w["status"] == "won" and w["winner_player_id"] == "w"
            assert await conn.fetchval(
                "SELECT count(*) FROM prizes WHERE payout_status = 'confirmed'") == 4
            assert await conn.fetchval("SELECT count(*) FROM operator_actions") == 3
            assert (await audit.verify(conn)).ok
            # the live values Redis is rebuilt from
            live = await live_values(conn, sc.jackpot_id)
            assert len(live["pools"]) == 1 and live["pools"][0]["cycle_number"] == 2
            assert [w["winner_player_id"] for w in live["winners"]] == ["w"]
            assert live["warn"][0]["new_state"]
        finally:
            await conn.close()
            await sink.close()
            await ledger.close()


async def test_a_payout_status_seen_before_its_win_keeps_the_prize_amount(settings):
    """The sinks read the win and payout topics separately, so a CreditUpdated can land before
    the WinnerSelected that names the prize: the row it opens must take the amount that follows."""
    sc = run()
    prizes = "SELECT win_id, kind, rank, player_id, amount, payout_status FROM prizes ORDER BY 1, 2, 3"
    credits = [e for e in sc.events if e["event_type"] == "CreditUpdated"]
    others = [e for e in sc.events if e["event_type"] != "CreditUpdated"]
    assert credits and others
    async with private_database(settings) as ordered, private_database(settings) as early:
        got = []
        for dsn, batches in ((ordered, [sc.events]), (early, [credits, others])):
            sink = EventSink(dsn)
            conn = await asyncpg.connect(dsn)
            try:
                for b in batches:
                    await sink.write(b)
                got.append([tuple(r) for r in await conn.fetch(prizes)])
            finally:
                await conn.close()
                await sink.close()
        assert got[1] == got[0]
        assert all(r[4] > 0 for r in got[0])


async def test_concurrent_appenders_keep_one_valid_chain(settings):
    async with private_database(settings) as dsn:
        sinks = [EventSink(dsn) for _ in range(4)]
        scenarios = [run() for _ in range(4)]
        try:
            await asyncio.gather(*(s.write(sc.events) for s, sc in zip(sinks, scenarios)))
            # and the same again, crossed: nothing new anywhere
            await asyncio.gather(*(s.write(sc.events) for s, sc in zip(sinks, reversed(scenarios))))
            conn = await asyncpg.connect(dsn)
            try:
                res = await audit.verify(conn)
                audited = sum(1 for sc in scenarios for e in sc.events if e["event_type"] in sinks[0].audited)
                assert res.ok and res.rows == audited, res.problems
            finally:
                await conn.close()
        finally:
            for s in sinks:
                await s.close()


async def test_config_versions_are_recorded_once_per_content(settings):
    from .helpers import one_level_config

    async with private_database(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            doc = one_level_config()

            async def record(d: dict) -> tuple[int, bool]:
                async with conn.transaction():
                    p = await publish_config(conn, d, topic="", actor="ops", audit_key=b"k" * 32, source="test",
                                             back_office=True, send=False)
                return p.version, p.new_version

            assert await record(doc) == (1, True)
            assert await record(doc) == (1, False)  # the same content again: no new version
            changed = dict(doc, contribution_rate="0.02")
            assert await record(changed) == (2, True)
            assert await conn.fetchval("SELECT current_version FROM jackpot_configs WHERE jackpot_id = $1",
                                       doc["jackpot_id"]) == 2
            res = await audit.verify(conn, b"k" * 32)
            assert res.ok and res.rows == 3  # every publication is audited, with the chain's key
        finally:
            await conn.close()
