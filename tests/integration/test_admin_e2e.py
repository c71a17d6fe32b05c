"""End to end on the real stack, through the admin API only: create a jackpot from the Classic
Progressive template, activate it, produce bets, force-drop a level, and see the win on the win
topic, in the ledger and in the audit trail, with the force drop reported as applied."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from jackpot.streams.loadgen import produce_bets

from .conftest import wait_for
from .helpers import read_events, reference_wallet
from .test_admin_support import admin, call, http, identity  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


async def test_template_activate_bets_force_drop(admin, http, settings, spawn):
    wallet_url = await reference_wallet(spawn, "admin-e2e-wallet")

    brand = admin.brand("e2e")
    manager = await admin.token("manager", [brand], actor="manager-e2e")
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/from-template", manager, json_body={
        "template": "classic_progressive", "identity": identity([brand], "Crown Fortune E2E")})
    assert status == 201, jp
    jid = jp["jackpot_id"]
    mini = next(lv for lv in jp["steps"]["levels"]["levels"] if lv["name"] == "Mini")
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/activate", manager,
                                json_body={"confirm": True, "reason": "launch"})
    assert status == 200 and res["state"] == "published", res

    worker = spawn("admin-e2e-worker", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S="0.5")
    key = jid.encode()
    now = dt.datetime.now(dt.timezone.utc)
    await produce_bets(settings, [{
        "event_id": str(uuid.uuid4()), "timestamp": now, "player_id": f"player-{i}", "game_id": "book-of-dead",
        "brand_id": brand, "currency": "EUR", "bet_amount": Decimal("2.00"), "bet_type": "real",
        "session_id": f"s-{i}"} for i in range(5)])

    async def mini_grew():
        updates = await read_events(settings, settings.topic("pool-updated"), key)
        return [u for u in updates if u["level_id"] == mini["level_id"] and u["visible_amount"] > 0]

    grown = await wait_for(mini_grew, timeout=120, what="the bets in the Mini pool")
    assert worker.alive(), worker.log_tail()

    status, cmd, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/force-drop?wait_s=30", manager,
                                json_body={"level_id": mini["level_id"], "currency": "EUR",
                                           "reason": "end-to-end check", "confirmation": "Crown Fortune E2E"})
    assert status == 200, cmd
    assert cmd["state"] == "applied" and cmd["applied_at"] is not None and "win" in cmd["detail"]

    won = await wait_for(lambda: read_events(settings, settings.topic("jackpot-won"), key), timeout=120,
                         what="JackpotWon")
    assert len(won) == 1 and won[0]["level_id"] == mini["level_id"]
    assert won[0]["winner_player_id"].startswith("player-")
    assert won[0]["win_amount"] >= max(u["visible_amount"] for u in grown)

    conn = await asyncpg.connect(settings.database_url)
    try:
        win = await wait_for(lambda: conn.fetchrow(
            "SELECT * FROM wins WHERE jackpot_id = $1 AND won_at IS NOT NULL", jid), timeout=90, what="the win row")
        assert win["win_amount"] == won[0]["win_amount"] and win["drop_kind"] == "force"
        rows = await wait_for(lambda: conn.fetch(
            "SELECT event_type, actor, body FROM audit_log WHERE jackpot_id = $1 ORDER BY seq", jid), timeout=30)
        types = [r["event_type"] for r in rows]
        assert "JackpotWon" in types and "OperatorActionRecorded" in types
        admin_actions = [json.loads(r["body"]) for r in rows if r["event_type"] == "AdminAction"]
        forced = next(a for a in admin_actions if a["action"] == "command:force_drop")
        assert forced["actor"] == "manager-e2e" and forced["role"] == "manager" and forced["brand"] == brand
        assert forced["reason"] == "end-to-end check" and forced["after"]["command_id"] == cmd["command_id"]
        engine = next(json.loads(r["body"]) for r in rows if r["event_type"] == "OperatorActionRecorded")
        assert engine["command_id"] == cmd["command_id"] and engine["outcome"] == "applied"
    finally:
        await conn.close()

    # the monitor and the approval-free payout: the win is in the cycle history
    status, mon, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/monitor", manager)
    assert status == 200
    assert any(c["level_id"] == mini["level_id"] and c["win_amount"] for c in mon["cycles"]), mon["cycles"]
    assert {p["spins"] for p in mon["players"]} == {1} and len(mon["players"]) == 5
    grand = mon["players"][0]
    assert grand["player_masked"].startswith("pl***") and grand["last_bet"] == "2.000000"
    assert set(grand["eligible_levels"]) == {"Grand", "Major", "Minor", "Mini"}  # 2.00 meets every min bet
    async with aiohttp.ClientSession() as s:
        stats = await (await s.get(f"{wallet_url}/stats")).json()
    assert stats["credits"] >= 1
    assert worker.alive(), worker.log_tail()
