"""Decommissioning on the real stack (regulatory item 9: a jackpot holding players' money is not
simply cancelled; it ends by a forced drop, with an audit trail).

A live jackpot whose level keeps a hidden increment takes bets through Kafka; the manager archives
it through the admin API. The engine drops everything the pool holds, hidden reserve included,
the wallet pays it, the jackpot archives itself and the Back Office record follows. PostgreSQL
then shows every unit that went in came out as the prize: nothing stranded, nothing paid twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from jackpot.streams.loadgen import produce_bets

from .conftest import wait_for
from .helpers import read_events, reference_wallet
from .test_admin_support import GAMES, admin, call, full_draft, http, live_jackpot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def bet(brand: str, player: str) -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": player,
            "game_id": GAMES["games"][0]["game_id"], "brand_id": brand, "currency": "EUR",
            "bet_amount": Decimal("40.00"), "bet_type": "real", "session_id": f"s-{player}"}


async def test_archiving_a_live_jackpot_pays_out_everything_it_holds(admin, http, settings, spawn):
    wallet_url = await reference_wallet(spawn, "decommission-wallet")
    brand = admin.brand("decom")
    manager = await admin.token("manager", [brand], actor="manager-decom")
    name = "Decommission Fortune"
    draft = full_draft([brand], name)
    draft["levels"] = {"contribution_rate": "0.015", "house_cut": "0.10", "levels": [{
        "name": "Grand", "display_order": 1, "contribution_split": "1", "seed_from": "1000", "seed_to": "1000",
        "win_from": "5000", "win_to": "6000", "win_max": "10000",
        "hidden_increment": {"enabled": True, "coefficient": "0.2"}}]}
    jid = (await live_jackpot(admin, http, manager, draft))["jackpot_id"]
    worker = spawn("decommission-worker", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S="0.5")
    players = [f"player-{i}" for i in range(4)]
    await produce_bets(settings, [bet(brand, p) for p in players * 5])
    conn = await asyncpg.connect(settings.database_url)
    try:
        async def contributions() -> int | None:
            n = await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = $1", jid)
            return n if n == 20 else None

        await wait_for(contributions, timeout=120, what="the 20 bets in the ledger")
        hidden = await conn.fetchval("SELECT sum(hidden_amount) FROM contribution_levels WHERE jackpot_id = $1", jid)
        assert hidden > 0

        url = f"{admin.url}/v1/jackpots/{jid}/archive?wait_s=30"
        status, prob, _ = await call(http, "POST", url, manager, json_body={"confirmation": name, "reason": "retired"})
        assert status == 422 and prob["type"].endswith("/disposition-required")
        status, res, _ = await call(http, "POST", url, manager, json_body={
            "confirmation": name, "disposition": "force_drop", "reason": "product retired"})
        assert status in (200, 202), res
        assert [c["action"] for c in res["commands"]] == ["decommission"] and res["commands"][0]["state"] == "applied"

        async def archived():
            status, doc, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}", manager)
            return doc if doc["status"] == "ARCHIVED" else None

        await wait_for(archived, timeout=90, what="the Back Office record archived")

        net = await conn.fetchval(
            "SELECT sum(gross_amount - house_cut_amount) FROM contributions WHERE jackpot_id = $1", jid)
        seeds = await conn.fetchval("SELECT sum(coalesce(seed_draw, seed_amount)) FROM cycles WHERE jackpot_id = $1", jid)
        won = await conn.fetchval("SELECT sum(win_amount) FROM hits WHERE jackpot_id = $1", jid)
        assert net > 0 and won == net + seeds, (won, net, seeds)  # every unit in went out as the prize
        released = await conn.fetchrow(
            "SELECT sum(amount) AS amount, sum(hidden_amount) AS hidden FROM reserve_releases WHERE jackpot_id = $1", jid)
        assert released["hidden"] == hidden and released["amount"] >= hidden
        paid = await conn.fetch("SELECT win_id, payout_status FROM prizes WHERE jackpot_id = $1", jid)
        assert len(paid) == 1 and paid[0]["payout_status"] == "confirmed"
        last = await conn.fetchrow(
            "SELECT old_state, new_state, reason FROM jackpot_state_changes WHERE jackpot_id = $1 AND level_id IS NULL "
            "ORDER BY changed_at DESC LIMIT 1", jid)
        assert last["new_state"] == "ARCHIVED" and last["reason"] == "decommissioned: product retired"

        status, meters, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/meters", manager)
        assert status == 200, meters
        [m] = meters["meters"]
        assert Decimal(m["displayed_amount"]) == 0 and Decimal(m["reserve"]) == 0, m
        assert Decimal(m["total_won"]) == won and m["hit_count"] == 1

        status, prob, _ = await call(http, "POST", url, manager, json_body={
            "confirmation": name, "disposition": "force_drop", "reason": "again"})
        assert status == 409 and prob["type"].endswith("/archived")

        async with aiohttp.ClientSession() as s:
            stats = await (await s.get(f"{wallet_url}/stats")).json()
        assert stats["credits"] == 1  # one prize, paid once
        changes = await read_events(settings, settings.topic("jackpot-state-changed"), jid.encode())
        assert changes[-1]["new_state"] == "ARCHIVED"
    finally:
        await conn.close()
    assert worker.alive(), worker.log_tail()


async def test_archiving_moves_the_balances_to_another_live_jackpot(admin, http, settings, spawn):
    """Regulatory item 9's other way: the balances move to another pool. Two jackpots on (usually)
    different partitions: the retiring one's pools are emptied into TRANSFER adjustments, the
    receiving one credits the same amounts, acknowledges, and only then is the first archived."""
    brand = admin.brand("merge")
    manager = await admin.token("manager", [brand], actor="manager-merge")
    boss = await admin.token("admin", [brand], actor="admin-merge")
    ids = {}
    for name in ("Merge Old Fortune", "Merge New Fortune", "Merge Dollar Fortune"):
        draft = full_draft([brand], name)
        if name == "Merge Dollar Fortune":
            draft["identity"]["currencies"] = ["USD"]
        ids[name] = (await live_jackpot(admin, http, manager, draft))["jackpot_id"]
    old, new = ids["Merge Old Fortune"], ids["Merge New Fortune"]
    worker = spawn("merge-worker", "worker", JACKPOT_CLOCK_INTERVAL_S="0.5")
    await produce_bets(settings, [bet(brand, f"player-{i}") for i in range(6)])
    conn = await asyncpg.connect(settings.database_url)
    try:
        async def fed():
            n = await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = $1", old)
            return n if n == 6 else None  # both jackpots match the brand, game and currency: 6 rows each

        await wait_for(fed, timeout=120, what="the bets in the ledger")
        url = f"{admin.url}/v1/jackpots/{old}/archive?wait_s=30"
        body = {"confirmation": "Merge Old Fortune", "disposition": "transfer", "reason": "merged"}
        status, prob, _ = await call(http, "POST", url, manager, json_body={**body, "transfer_to": new})
        assert status == 403 and prob["type"].endswith("/forbidden")  # moving money is an Admin's call
        status, prob, _ = await call(http, "POST", url, boss, json_body=body)
        assert status == 422 and prob["type"].endswith("/transfer-target-required")
        status, prob, _ = await call(http, "POST", url, boss,
                                     json_body={**body, "transfer_to": ids["Merge Dollar Fortune"]})
        assert status == 422 and prob["type"].endswith("/transfer-target-currencies"), prob
        status, res, _ = await call(http, "POST", url, boss, json_body={**body, "transfer_to": new})
        assert status in (200, 202), res

        async def archived():
            status, doc, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{old}", manager)
            return doc if doc["status"] == "ARCHIVED" else None

        await wait_for(archived, timeout=90, what="the retiring jackpot archived after the acknowledgement")

        async def moved():
            rows = await conn.fetch("SELECT jackpot_id, sum(amount) AS amount FROM pool_adjustments "
                                    "WHERE reason = 'TRANSFER' AND jackpot_id = ANY($1) GROUP BY 1", [old, new])
            got = {r["jackpot_id"]: r["amount"] for r in rows}
            return got if len(got) == 2 else None

        got = await wait_for(moved, timeout=60, what="both sides of the transfer in the ledger")
        net = await conn.fetchval("SELECT sum(gross_amount - house_cut_amount) FROM contributions WHERE jackpot_id = $1",
                                  old)
        seed = await conn.fetchval("SELECT sum(seed_draw) FROM cycles WHERE jackpot_id = $1", old)  # revealed at the move
        assert got[old] == -(net + seed) and got[new] == net + seed, (got, net, seed)  # every micro, once
        assert await conn.fetchval("SELECT count(*) FROM hits WHERE jackpot_id = $1", old) == 0  # moved, not dropped
    finally:
        await conn.close()
    assert worker.alive(), worker.log_tail()
