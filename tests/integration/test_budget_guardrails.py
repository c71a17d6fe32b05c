"""Budget alerts and Budget Constraint Mode (spec: Budget Model) on PostgreSQL and the admin API.

The alerts are computed from ledger rows written as the sinks write them: a cycle running longer
than 150% of its expected duration (expected value per cycle at the measured velocity), pre-seed
above the house cut of the last 30 days, a negative net position. The constraints are set through
the admin API by an all-brands Admin; a Win Max above the maximum single prize is refused, and
activations are refused while the month's cost is over its limit.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import asyncpg
import pytest

from jackpot.engine.events import event_id
from jackpot.sinks.budget import jackpot_alerts
from jackpot.sinks.ledger import LedgerWriter
from jackpot.streams.budget import check_and_alert

from .helpers import one_level_config, read_engine_events
from .test_admin_support import admin, call, full_draft, http, identity  # noqa: F401  (fixtures)
from .test_ledger_events import private_database

pytestmark = pytest.mark.integration
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def contribution(jackpot_id: str, level_id: str, at: dt.datetime, net: str, house: str) -> dict:
    bet_id = str(uuid.uuid4())
    gross = Decimal(net) + Decimal(house)
    return {"event_id": event_id("ContributionApplied", jackpot_id, None, "EUR", bet_id), "timestamp": at,
            "jackpot_id": jackpot_id, "bet_id": bet_id, "player_id": "p1", "game_id": "starburst",
            "brand_id": "brand-royal", "currency": "EUR", "bet_amount": gross * 50, "gross_amount": gross,
            "house_cut_amount": Decimal(house), "bet_timestamp": at,
            "levels": [{"level_id": level_id, "net_amount": Decimal(net), "visible_amount": Decimal(net),
                        "hidden_amount": Decimal(0), "overflow_amount": Decimal(0), "pending_amount": Decimal(0),
                        "transfer_in_amount": Decimal(0)}]}


async def test_cycle_overrun_pre_seed_and_net_position_alerts(settings):
    doc = one_level_config()  # seed 1000, win 5000-6000, house cut 10%: 5000 gross to grow one cycle
    jid, lid = doc["jackpot_id"], doc["levels"][0]["level_id"]
    async with private_database(settings) as dsn:
        ledger = LedgerWriter(dsn)
        try:  # 450 net in one hour: 500 gross an hour, so a cycle is expected to take 10 h
            await ledger.write([contribution(jid, lid, NOW - dt.timedelta(hours=2), "225", "25"),
                                contribution(jid, lid, NOW - dt.timedelta(hours=1), "225", "25")])
        finally:
            await ledger.close()
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("INSERT INTO jackpot_configs (jackpot_id, name, current_version) VALUES ($1, 'x', 1)", jid)
            await conn.execute("INSERT INTO jackpot_config_versions (jackpot_id, version, config_hash, status, config, "
                               "actor) VALUES ($1, 1, 'h', 'ACTIVE', $2, 'test')", jid, json.dumps(doc))

            async def cycle(started: dt.datetime) -> None:
                await conn.execute("DELETE FROM cycles WHERE jackpot_id = $1", jid)
                await conn.execute("INSERT INTO cycles (jackpot_id, level_id, currency, cycle_number, seed_amount, "
                                   "seed_draw, started_at) VALUES ($1, $2, 'EUR', 1, 1000, 1000, $3)", jid, lid, started)

            await cycle(NOW - dt.timedelta(hours=14))  # 140% of 10 h: no alert yet
            kinds = {a.kind for a in await jackpot_alerts(conn, jid, NOW)}
            assert "cycle_overrun" not in kinds and "negative_net_position" in kinds  # seed 1000 > house cut 50
            await cycle(NOW - dt.timedelta(hours=16))
            [over] = [a for a in await jackpot_alerts(conn, jid, NOW) if a.kind == "cycle_overrun"]
            assert over.level_id == lid and over.figures["expected_hours"] == "10.000000", over
            assert "over 150% of the expected 10.000000 h" in over.message

            assert not [a for a in await jackpot_alerts(conn, jid, NOW) if a.kind == "pre_seed_30d"]
            await conn.execute("INSERT INTO pool_adjustments (event_id, adjusted_at, jackpot_id, level_id, currency, "
                               "amount, reason, actor) VALUES ($1, $2, $3, $4, 'EUR', 60, 'PRE_SEED', 'op')",
                               uuid.uuid4(), NOW - dt.timedelta(days=3), jid, lid)
            [pre] = [a for a in await jackpot_alerts(conn, jid, NOW) if a.kind == "pre_seed_30d"]
            assert pre.figures == {"pre_seed_30d": "60.000000", "house_cut_30d": "50.000000"}
            # 31 days later the pre-seed is outside the window, and so is the house cut: no alert
            later = NOW + dt.timedelta(days=31)
            assert not [a for a in await jackpot_alerts(conn, jid, later) if a.kind == "pre_seed_30d"]
        finally:
            await conn.close()


async def test_budget_constraints_through_the_admin_api(admin, http, settings):
    brand = admin.brand("budget")
    root = await admin.token("admin", all_brands=True, actor="admin-budget")
    scoped_admin = await admin.token("admin", [brand], actor="admin-budget-scoped")
    manager = await admin.token("manager", [brand], actor="manager-budget")
    url = f"{admin.url}/v1/budget/constraints"
    status, prob, _ = await call(http, "GET", url, scoped_admin)
    assert status == 403 and prob["type"].endswith("/brand-scope")
    status, prob, _ = await call(http, "PUT", f"{url}/SEK", manager, json_body={"reason": "limits"})
    assert status == 403
    status, prob, _ = await call(http, "PUT", f"{url}/SEK", root, json_body={"max_single_prize": "-1", "reason": "x y"})
    assert status == 422
    pool = admin.services.pool
    jid_cost = str(uuid.uuid4())
    try:
        status, res, _ = await call(http, "PUT", f"{url}/SEK", root, json_body={
            "max_single_prize": "8000", "reason": "cap any single prize"})
        assert status == 200, res
        [row] = [r for r in res["items"] if r["currency"] == "SEK"]
        assert row["max_single_prize"] == "8000.000000" and row["updated_by"] == "admin-budget"

        draft = full_draft([brand], "Budget Fortune")
        draft["identity"] = identity([brand], "Budget Fortune", currencies=["SEK"])
        status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager, json_body=draft)
        assert status == 201, jp
        activate = f"{admin.url}/v1/jackpots/{jp['jackpot_id']}/activate"
        status, prob, _ = await call(http, "POST", activate, manager, json_body={"confirm": True})
        assert status == 422 and prob["type"].endswith("/budget-max-single-prize"), prob
        assert "Win Max 10000.000000 exceeds the budget's maximum single prize 8000.000000" in prob["detail"]

        # this month's SEK cost: a seed of 1000 the operator paid, no house cut yet
        await pool.execute("INSERT INTO cycles (jackpot_id, level_id, currency, cycle_number, seed_amount, seed_draw, "
                           "started_at) VALUES ($1, 'l', 'SEK', 1, 1000, 1000, now())", jid_cost)
        status, res, _ = await call(http, "PUT", f"{url}/SEK", root, json_body={
            "max_single_prize": "20000", "max_monthly_cost": "500", "pause_activations": True,
            "reason": "month budget"})
        assert status == 200, res
        [row] = [r for r in res["items"] if r["currency"] == "SEK"]
        assert Decimal(row["month_cost"]) >= 1000 and res["alerts"], res
        assert any("exceeds the limit 500.000000; new activations are paused" in a for a in res["alerts"])
        status, prob, _ = await call(http, "POST", activate, manager, json_body={"confirm": True})
        assert status == 409 and prob["type"].endswith("/budget-exceeded"), prob

        alerts = await check_and_alert(settings)  # the worker leader's scheduled check
        assert any(a.kind == "monthly_cost" and a.currency == "SEK" for a in alerts)
        events = await read_engine_events(settings, b"*")
        assert any(e["kind"] == "BudgetAlert" and e["payload"]["kind"] == "monthly_cost" for e in events)

        status, res, _ = await call(http, "PUT", f"{url}/SEK", root, json_body={
            "max_monthly_cost": "5000", "pause_activations": True, "reason": "raised after review"})
        assert status == 200 and not res["alerts"], res
        status, res, _ = await call(http, "POST", activate, manager, json_body={"confirm": True})
        assert status == 200, res
        trail = await pool.fetch("SELECT body FROM audit_log WHERE body::jsonb ->> 'action' = 'budget_constraints' "
                                 "AND body::jsonb ->> 'actor' = 'admin-budget'")
        assert len(trail) == 3
    finally:
        await pool.execute("DELETE FROM budget_constraints WHERE currency = 'SEK'")
        await pool.execute("DELETE FROM cycles WHERE jackpot_id = $1", jid_cost)
