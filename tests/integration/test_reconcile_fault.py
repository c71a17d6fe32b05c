"""Scheduled reconciliation on the real stack, and the fault state it triggers (regulatory item 11).

The worker's leader reconciles every few seconds here (every 15 minutes by default). A clean
ledger reconciles to zero; one micro taken out of a ledger row is a mismatch: an alert with the
amounts, the jackpot suspended (bets held in pending, never lost), and only an operator's
clear_fault, after the row is put right, brings it back with the held bets applied.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
import pytest

from jackpot.streams.codec import catalog
from jackpot.streams.kafka import producer
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import wait_for
from .helpers import one_level_config, read_events, table_value

pytestmark = pytest.mark.integration


def _bets(n: int) -> list[dict]:
    return [{"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
             "player_id": f"player-{i % 3}", "game_id": "starburst", "brand_id": "brand-royal", "currency": "EUR",
             "bet_amount": Decimal("2.00"), "bet_type": "real", "session_id": f"s-{i % 3}"} for i in range(n)]


async def _journal(settings, jackpot_id: str, kind: str) -> list[dict]:
    return [e for e in await read_events(settings, settings.topic("jackpot-events"), jackpot_id.encode())
            if e["kind"] == kind]


async def _pool(settings, jackpot_id: str, level_id: str) -> dict:
    rec = await table_value(settings, TABLE_NAME, jackpot_id.encode())
    return {"status": rec["state"]["status"], "fault": rec["state"].get("fault"),
            **rec["state"]["pools"]["EUR"][level_id]}


async def test_a_ledger_difference_faults_the_jackpot_until_an_operator_clears_it(settings, spawn):
    config = one_level_config()
    jackpot_id, level_id = config["jackpot_id"], config["levels"][0]["level_id"]
    await publish_configs(settings, [config])
    spawn("reconcile-worker", "worker", JACKPOT_RECONCILE_INTERVAL_S="4", JACKPOT_RECONCILE_SETTLE_S="2")
    first = _bets(5)
    await produce_bets(settings, first)

    conn = await asyncpg.connect(settings.database_url)
    try:
        await wait_for(lambda: conn.fetchval("SELECT count(*) = 5 FROM contributions WHERE jackpot_id = $1",
                                             jackpot_id), timeout=120, what="the five ledger rows")
        # 1. a clean run
        async def clean():
            return [e for e in await _journal(settings, jackpot_id, "ReconciliationCompleted")
                    if '"status": "ok"' in e["payload_json"]]

        await wait_for(clean, timeout=60, interval=1.0, what="a clean reconciliation run")

        # 2. one micro goes missing from a ledger row
        victim = await conn.fetchval("SELECT event_id FROM contribution_levels WHERE jackpot_id = $1 LIMIT 1",
                                     jackpot_id)
        tweak = ("UPDATE contribution_levels SET net_amount = net_amount {op} 0.000001, "
                 "visible_amount = visible_amount {op} 0.000001 WHERE event_id = $1")
        await conn.execute(tweak.format(op="-"), victim)
        mismatch = await wait_for(lambda: _journal(settings, jackpot_id, "ReconciliationMismatch"), timeout=60,
                                  interval=1.0, what="the reconciliation alert")
        assert '"difference": -1' in mismatch[0]["payload_json"]  # the amounts, in micros

        async def suspended():
            p = await _pool(settings, jackpot_id, level_id)
            return p if p["status"] == "PAUSED" and p["fault"] else None

        before = await wait_for(suspended, timeout=60, what="the jackpot in the fault state")
        assert before["fault"]["actor"] == "system:reconciliation"
        changed = await read_events(settings, settings.topic("jackpot-state-changed"), jackpot_id.encode())
        assert changed[-1]["new_state"] == "PAUSED" and changed[-1]["reason"].startswith("FAULT")

        # 3. bets during the fault are held, not lost
        await produce_bets(settings, _bets(3))

        async def held():
            p = await _pool(settings, jackpot_id, level_id)
            return p if p["pending"] > 0 else None

        during = await wait_for(held, timeout=60, what="contributions held in pending")
        assert during["visible"] == before["visible"]

        # 4. the operator investigates, puts the row right and clears the fault
        await conn.execute(tweak.format(op="+"), victim)
        async with producer(settings) as prod:
            await prod.send_and_wait(settings.topic("operator-commands"), key=jackpot_id.encode(),
                                     value=catalog().encode("OperatorCommand", {
                                         "event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
                                         "jackpot_id": jackpot_id, "action": "clear_fault", "actor": "ops-lead",
                                         "reason": "ledger row corrected from the contribution topic"}))

        async def resumed():
            p = await _pool(settings, jackpot_id, level_id)
            return p if p["status"] == "ACTIVE" and not p["fault"] and p["pending"] == 0 else None

        after = await wait_for(resumed, timeout=60, what="the jackpot back to ACTIVE with the held bets applied")
        assert after["visible"] > before["visible"]
        cleared = await wait_for(lambda: _journal(settings, jackpot_id, "FaultCleared"), timeout=30,
                                 what="the FaultCleared record")
        assert "ops-lead" in cleared[0]["payload_json"]
    finally:
        await conn.close()


async def test_reconciliation_under_continuous_bets_faults_nothing(settings, spawn):
    """While bets keep flowing, the ledger runs ahead of the table value last persisted (a batch's
    ledger events go out before its value): a reconciliation compares both at the value's cut
    (its bets offsets), so it finds no difference and faults nothing. Before, every run under
    load reported the ledger ahead and faulted every jackpot."""
    from jackpot.sinks.reconcile import reconcile_settled
    from jackpot.streams.reconciler import reconcile_and_act, table_states

    async def slow_states():  # a long changelog takes seconds to read: bets go on meanwhile
        states = await table_states(settings)
        await asyncio.sleep(2.0)
        return states

    configs = [one_level_config(), one_level_config()]
    await publish_configs(settings, configs)
    spawn("steady-reconcile-worker", "worker", JACKPOT_RECONCILE_INTERVAL_S="0")
    stop = asyncio.Event()

    async def steady() -> None:
        while not stop.is_set():
            await produce_bets(settings, _bets(20))
            await asyncio.sleep(0.1)

    flowing = asyncio.create_task(steady())
    try:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await wait_for(lambda: conn.fetchval("SELECT count(*) > 100 FROM contributions WHERE jackpot_id = $1",
                                                 configs[0]["jackpot_id"]), timeout=120, what="bets in the ledger")
            results = [await reconcile_settled(conn, slow_states, settle_s=30) for _ in range(2)]
        finally:
            await conn.close()
        results.append(await reconcile_and_act(settings, settle_s=30))
    finally:
        stop.set()
        await flowing
    for res in results:
        mine = [d for d in res.differences if d.jackpot_id in {c["jackpot_id"] for c in configs}]
        assert not mine, "\n".join(f"{d.jackpot_id} {d.metric} ledger {d.ledger} table {d.table}" for d in mine)
    for c in configs:
        p = await _pool(settings, c["jackpot_id"], c["levels"][0]["level_id"])
        assert p["status"] == "ACTIVE" and not p["fault"]
