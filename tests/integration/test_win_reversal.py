"""Reversing a paid win on the real stack (issue 21 gap 4): the wallet pays a forced drop, the
operator's wallet later debits it (a chargeback), and two Admins record the reversal; the amount
returns to the pool, once, and the ledger's P&L and meters stop counting it as paid.

A module of its own: its worker must be the only member of its consumer group (a worker of an
earlier test in the same module could still hold partitions, with another wallet)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
import pytest

from jackpot.streams.loadgen import produce_bets

from .conftest import wait_for
from .helpers import read_events, reference_wallet
from .test_admin_support import admin, call, full_draft, http, live_jackpot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

async def test_a_paid_win_taken_back_in_the_wallet_is_reversed_into_its_pool(admin, http, settings, spawn):
    """Issue 21 gap 4: a paid win could not be reversed. The wallet pays a forced drop; after a
    chargeback the operator's wallet debits it, one Admin records the reversal with the debit's
    reference and a second approves; the amount is back in the pool, the win is 'reversed', and
    the P&L and meters no longer count it as paid."""
    wallet_url = await reference_wallet(spawn, "reversal-wallet")
    brand = admin.brand("reversal")
    manager = await admin.token("manager", [brand], actor="manager-reversal")
    first = await admin.token("admin", [brand], actor="admin-reversal-1")
    second = await admin.token("admin", [brand], actor="admin-reversal-2")
    name = "Reversal Fortune"
    jp = await live_jackpot(admin, http, manager, full_draft([brand], name))
    jid = jp["jackpot_id"]
    level_id = jp["steps"]["levels"]["levels"][0]["level_id"]
    worker = spawn("reversal-worker", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S="0.5")
    await produce_bets(settings, [{
        "event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": "player-lucky",
        "game_id": "starburst", "brand_id": brand, "currency": "EUR", "bet_amount": Decimal("2.00"),
        "bet_type": "real", "session_id": "s-1"}])
    await wait_for(lambda: read_events(settings, settings.topic("pool-updated"), jid.encode()), timeout=120,
                   what="the bet in the pool")
    status, cmd, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/force-drop?wait_s=30", manager,
                                json_body={"level_id": level_id, "reason": "reversal drill", "confirmation": name})
    assert status == 200 and cmd["state"] == "applied", cmd

    async def paid():
        status, doc, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/payouts?state=confirmed", first)
        return doc["items"] or None

    [prize] = await wait_for(paid, timeout=60, what="the prize paid by the wallet")
    win_id, amount = prize["win_id"], Decimal(prize["amount"])

    async def meters():
        status, doc, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/meters", first)
        return doc["meters"][0]

    before = await wait_for(lambda: _when(meters, lambda m: Decimal(m["total_won"]) == amount), timeout=60,
                            what="the win in the meters")
    url = f"{admin.url}/v1/jackpots/{jid}/wins/{win_id}/reverse"
    body = {"reason": "chargeback upheld", "wallet_reference": "DEBIT-2026-0042", "confirmation": win_id}
    status, prob, _ = await call(http, "POST", url, manager, json_body=body)
    assert status == 403  # Admins only
    status, co, _ = await call(http, "POST", url, first, json_body=body)
    assert status == 202 and co["action"] == "reverse_win", co
    decide = f"{admin.url}/v1/co-approvals/{co['request_id']}/decide?wait_s=30"
    status, prob, _ = await call(http, "POST", decide, first, json_body={"approve": True})
    assert status == 403 and prob["type"].endswith("/four-eyes")
    status, res, _ = await call(http, "POST", decide, second, json_body={"approve": True})
    assert status == 200 and res["commands"][0]["state"] == "applied", res

    # the won meter (the event sink) and the pool's amount (its PoolUpdated) may land a moment apart
    back = Decimal(before["displayed_amount"]) + amount
    await wait_for(lambda: _when(meters, lambda m: Decimal(m["total_won"]) == 0
                                 and Decimal(m["displayed_amount"]) == back), timeout=60,
                   what="the reversal in the meters and the pool")
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await conn.fetchrow("SELECT w.status, r.amount, r.reason FROM wins w JOIN win_reversals r USING (win_id) "
                                  "WHERE w.win_id = $1", win_id)
        [pnl] = await pnl_rows(conn, jid)
    finally:
        await conn.close()
    assert row["status"] == "reversed" and row["amount"] == amount and "DEBIT-2026-0042" in row["reason"]
    assert pnl["prizes_main"] == 0
    status, prob, _ = await call(http, "POST", url, first, json_body=body)
    assert status == 409 and prob["type"].endswith("/already-reversed")
    assert worker.alive(), worker.log_tail()


async def _when(get, ok):
    value = await get()
    return value if ok(value) else None


async def pnl_rows(conn, jid):
    from jackpot.sinks.reports import pnl

    return await pnl(conn, jid)
