"""Portfolio dashboard, jackpot listing, live monitor and meter readings, read from the ledger.

Everything here is derived from what the event sink wrote to PostgreSQL (pool snapshots, state
and warn changes, contributions, cycles, hits), so the Back Office never reads a worker's
table and sees only what has durably happened. The secret win target is never read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from . import models as m
from .api import Ctx
from .approvals import mask
from .rbac import Permission as P
from .registry import api, scoped

Q = Decimal("0.000001")
WARN_RANK = {"CALM": 0, "HEATING": 1, "ON_FIRE": 2, "MUST_DROP": 3}


def _s(v: Any) -> str | None:
    return None if v is None else format(Decimal(v).quantize(Q), "f")


async def _pools(conn, jackpot_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = await conn.fetch(
        "SELECT DISTINCT ON (jackpot_id, level_id, currency) jackpot_id, level_id, currency::text AS currency, "
        "current_amount, visible_amount, display_state, cycle_number, snapshot_ts FROM pool_snapshots "
        "WHERE jackpot_id = ANY($1) ORDER BY jackpot_id, level_id, currency, snapshot_ts DESC", jackpot_ids)
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["jackpot_id"], []).append(dict(r))
    return out


async def _live_states(conn, jackpot_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT DISTINCT ON (jackpot_id) jackpot_id, new_state FROM jackpot_state_changes "
        "WHERE jackpot_id = ANY($1) AND level_id IS NULL ORDER BY jackpot_id, changed_at DESC", jackpot_ids)
    return {r["jackpot_id"]: r["new_state"] for r in rows}


async def _active_players(conn, jackpot_ids: list[str], window_s: int = 60) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT jackpot_id, count(DISTINCT player_id) AS n FROM contributions WHERE jackpot_id = ANY($1) "
        "AND bet_ts >= now() - make_interval(secs => $2) GROUP BY 1", jackpot_ids, float(window_s))
    return {r["jackpot_id"]: r["n"] for r in rows}


def _levels(rec) -> dict[str, dict[str, Any]]:
    return {lv["level_id"]: lv for lv in rec.steps.get("levels", {}).get("levels", [])}


def _pool_view(p: dict[str, Any], levels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"level_id": p["level_id"], "level": levels.get(p["level_id"], {}).get("name"), "currency": p["currency"],
            "current_amount": _s(p["current_amount"]), "visible_amount": _s(p["visible_amount"]),
            "display_state": p["display_state"], "cycle_number": p["cycle_number"], "at": p["snapshot_ts"]}


def _amounts(lv: dict[str, Any], currency: str) -> dict[str, Decimal]:
    a = (lv.get("currency_amounts") or {}).get(currency) or lv
    return {k: Decimal(str(a[k])) for k in ("seed_from", "seed_to", "win_from", "win_to", "win_max")}


def _remaining_share(pools: list[dict[str, Any]], levels: dict[str, dict[str, Any]]) -> Decimal | None:
    """How much of the drop range is left for the pool nearest to dropping (0 = at Win To)."""
    best = None
    for p in pools:
        lv = levels.get(p["level_id"])
        if lv is None:
            continue
        a = _amounts(lv, p["currency"])
        span = a["win_to"] - a["seed_from"]
        if span <= 0:
            continue
        share = max(Decimal(0), (a["win_to"] - Decimal(p["current_amount"])) / span)
        best = share if best is None else min(best, share)
    return best


@api.op("GET", "/v1/jackpots", summary="Portfolio listing with filters and sorts", tag="monitoring",
        permission=P.DASHBOARD_READ, query=m.ListQuery, response=m.JackpotList)
async def list_jackpots(ctx: Ctx, query: m.ListQuery) -> dict[str, Any]:
    s = ctx.services
    recs = [r for r in await s.jackpots.list() if ctx.principal.in_scope(r.brands)]
    if query.brand:
        recs = [r for r in recs if query.brand in r.brands]
    if query.type:
        recs = [r for r in recs if r.type == query.type]
    ids = [r.jackpot_id for r in recs]
    async with s.pool.acquire() as conn:
        pools = await _pools(conn, ids)
        states = await _live_states(conn, ids)
        players = await _active_players(conn, ids)
    items = []
    for r in recs:
        status = states.get(r.jackpot_id, r.status) if r.status in ("ACTIVE", "PAUSED") else r.status
        if query.status and status != query.status:
            continue
        levels = _levels(r)
        ps = pools.get(r.jackpot_id, [])
        warn = max((p["display_state"] for p in ps), key=lambda w: WARN_RANK.get(w, -1), default=None)
        if query.warn_state and warn != query.warn_state:
            continue
        share = _remaining_share(ps, levels)
        item = {"jackpot_id": r.jackpot_id, "name": r.name, "type": r.type, "brands": r.brands,
                "status": status, "pools": [_pool_view(p, levels) for p in ps],
                "active_players": players.get(r.jackpot_id, 0), "warn_state": warn,
                "closest_to_drop": _s(share), "created_at": r.created_at}
        total = sum((Decimal(p["current_amount"]) for p in ps), Decimal(0))
        items.append((item, total, share))
    key = {
        "pool_size": lambda t: -t[1],
        "closest_to_drop": lambda t: (t[2] is None, t[2] or 0),
        "most_active": lambda t: -t[0]["active_players"],
        "newest": lambda t: -t[0]["created_at"].timestamp(),
    }[query.sort]
    items.sort(key=key)
    return {"items": [t[0] for t in items[: query.limit]]}


@api.op("GET", "/v1/dashboard", summary="Portfolio dashboard: counts, alert center, activity feed",
        tag="monitoring", permission=P.DASHBOARD_READ, response=m.Dashboard)
async def dashboard(ctx: Ctx) -> dict[str, Any]:
    s = ctx.services
    recs = [r for r in await s.jackpots.list() if ctx.principal.in_scope(r.brands)]
    ids = [r.jackpot_id for r in recs]
    by_status: dict[str, int] = {}
    for r in recs:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    async with s.pool.acquire() as conn:
        alerts = await conn.fetch(
            "SELECT raised_at, jackpot_id, alert_type, level_id, currency::text AS currency FROM alerts "
            "WHERE jackpot_id = ANY($1) ORDER BY raised_at DESC LIMIT 50", ids)
        pending = await conn.fetchval(
            "SELECT count(*) FROM win_approvals WHERE jackpot_id = ANY($1) AND decision IS NULL", ids)
        activity = await conn.fetch(
            "(SELECT 'drop' AS kind, hit_at AS at, jackpot_id, level_id, win_amount::text AS amount, winner_player_id "
            " AS who, winner_game_id AS detail FROM hits WHERE jackpot_id = ANY($1) ORDER BY hit_at DESC LIMIT 20) "
            "UNION ALL (SELECT 'operator_action', acted_at, jackpot_id, level_id, NULL, actor, action || ':' || outcome "
            " FROM operator_actions WHERE jackpot_id = ANY($1) ORDER BY acted_at DESC LIMIT 20) "
            "UNION ALL (SELECT 'warn_change', changed_at, jackpot_id, level_id, NULL, NULL, "
            " coalesce(old_state, '') || '->' || coalesce(new_state, '') FROM warn_state_changes "
            " WHERE jackpot_id = ANY($1) AND kind = 'state' ORDER BY changed_at DESC LIMIT 20) "
            "ORDER BY at DESC LIMIT 40", ids)
    severity = {"PoolAtMax": "red", "PoolApproachingMax": "orange", "WinApprovalEscalated": "yellow"}
    alert_list = [{**dict(a), "severity": severity.get(a["alert_type"], "info")} for a in alerts]
    if pending:
        alert_list.insert(0, {"alert_type": "ApprovalQueuePending", "severity": "yellow", "count": pending})
    for r in recs:
        if r.status == "SCHEDULED":
            alert_list.append({"alert_type": "ScheduledActivation", "severity": "info", "jackpot_id": r.jackpot_id,
                               "activate_at": r.activate_at})
    feed = []
    for a in activity:
        d = dict(a)
        if d["kind"] == "drop" and d["who"]:
            d["who"] = mask(d["who"])
        feed.append(d)
    return {"jackpots": len(recs), "by_status": by_status, "alerts": alert_list, "pending_approvals": pending or 0,
            "activity": feed}


@api.op("GET", "/v1/jackpots/{jackpot_id}/monitor", summary="Live monitor: pools, velocity, players, warn, cycles",
        tag="monitoring", permission=P.MONITOR_READ, path_model=m.JackpotPath, response=m.Monitor)
async def monitor(ctx: Ctx, path: m.JackpotPath) -> dict[str, Any]:
    rec = await scoped(ctx, path.jackpot_id)
    jid = rec.jackpot_id
    levels = _levels(rec)
    window = int(rec.steps.get("eligibility", {}).get("active_window_seconds", 60))
    async with ctx.services.pool.acquire() as conn:
        pools = (await _pools(conn, [jid])).get(jid, [])
        state = (await _live_states(conn, [jid])).get(jid, rec.status)
        players = (await _active_players(conn, [jid], window)).get(jid, 0)
        vel = await conn.fetch(
            "SELECT level_id, currency::text AS currency, "
            "coalesce(sum(net_amount) FILTER (WHERE bet_ts >= now() - interval '1 minute'), 0) AS m1, "
            "coalesce(sum(net_amount) FILTER (WHERE bet_ts >= now() - interval '1 hour'), 0) AS h1, "
            "coalesce(sum(net_amount) FILTER (WHERE bet_ts < now() - interval '1 hour'), 0) AS h_prev "
            "FROM contribution_levels WHERE jackpot_id = $1 AND bet_ts >= now() - interval '2 hours' GROUP BY 1, 2",
            jid)
        spins = await conn.fetchval(
            "SELECT count(*) FROM contributions c WHERE c.jackpot_id = $1 AND c.bet_ts >= coalesce("
            "(SELECT max(started_at) FROM cycles WHERE jackpot_id = $1), '-infinity')", jid)
        warn = await conn.fetchrow(
            "SELECT new_state, changed_at FROM warn_state_changes WHERE jackpot_id = $1 AND kind = 'state' "
            "ORDER BY changed_at DESC LIMIT 1", jid)
        cycles = await conn.fetch(
            "SELECT cy.level_id, cy.currency::text AS currency, cy.cycle_number, cy.seed_amount, cy.started_at, "
            "h.win_amount, h.winner_player_id, h.hit_at FROM cycles cy LEFT JOIN hits h ON h.jackpot_id = cy.jackpot_id "
            "AND h.level_id = cy.level_id AND h.currency = cy.currency AND h.cycle_number = cy.cycle_number "
            "WHERE cy.jackpot_id = $1 ORDER BY cy.started_at DESC NULLS LAST LIMIT 50", jid)
        activity = await conn.fetch(
            "SELECT DISTINCT ON (player_id) player_id, game_id, currency::text AS currency, bet_amount AS last_bet, "
            "sum(gross_amount) OVER w AS contribution, count(*) OVER w AS spins, "
            "min(bet_ts) OVER w AS first_ts, max(bet_ts) OVER w AS last_ts FROM contributions "
            "WHERE jackpot_id = $1 AND bet_ts >= now() - make_interval(secs => $2) "
            "WINDOW w AS (PARTITION BY player_id) ORDER BY player_id, bet_ts DESC LIMIT 200",
            jid, float(max(window, 3600)))
        actions = await conn.fetch(
            "SELECT acted_at, action, actor, outcome, detail, level_id FROM operator_actions WHERE jackpot_id = $1 "
            "ORDER BY acted_at DESC LIMIT 20", jid)
    velocity, predicted = [], []
    per_hour = {}
    for v in vel:
        trend = "up" if v["h1"] > v["h_prev"] * Decimal("1.1") else "down" if v["h1"] < v["h_prev"] * Decimal("0.9") \
            else "stable"
        velocity.append({"level_id": v["level_id"], "currency": v["currency"], "last_minute": _s(v["m1"]),
                         "last_hour": _s(v["h1"]), "trend": trend})
        per_hour[(v["level_id"], v["currency"])] = Decimal(v["h1"])
    for p in pools:
        lv = levels.get(p["level_id"])
        if lv is None:
            continue
        a = _amounts(lv, p["currency"])
        rate = per_hour.get((p["level_id"], p["currency"]), Decimal(0))
        cur = Decimal(p["current_amount"])
        if rate <= 0:
            predicted.append({"level_id": p["level_id"], "currency": p["currency"], "earliest_hours": None,
                              "latest_hours": None, "note": "no contributions in the last hour"})
            continue
        earliest = max(Decimal(0), (a["win_from"] - cur) / rate)
        latest = max(Decimal(0), (a["win_to"] - cur) / rate)
        predicted.append({"level_id": p["level_id"], "currency": p["currency"],
                          "earliest_hours": format(earliest.quantize(Decimal("0.01")), "f"),
                          "latest_hours": format(latest.quantize(Decimal("0.01")), "f"),
                          "note": "from last hour's velocity and the Win From/Win To range; conditions may delay it"})
    cycle_list = []
    for c in cycles:
        dur = None
        if c["hit_at"] and c["started_at"]:
            dur = format((Decimal((c["hit_at"] - c["started_at"]).total_seconds()) / 3600).quantize(Decimal("0.01")), "f")
        cycle_list.append({"level_id": c["level_id"], "currency": c["currency"], "cycle_number": c["cycle_number"],
                           "seed_amount": _s(c["seed_amount"]), "started_at": c["started_at"],
                           "win_amount": _s(c["win_amount"]),
                           "winner_masked": mask(c["winner_player_id"]) if c["winner_player_id"] else None,
                           "won_at": c["hit_at"], "duration_hours": dur})
    table = []
    for a in activity:
        bet = Decimal(a["last_bet"])
        eligible = []
        for lv in levels.values():
            amounts = (lv.get("currency_amounts") or {}).get(a["currency"]) or lv
            lo, hi = Decimal(str(amounts.get("min_bet", "0"))), Decimal(str(amounts.get("max_bet", "0")))
            if bet >= lo and (hi == 0 or bet <= hi):
                eligible.append(lv["name"])
        minutes = Decimal((a["last_ts"] - a["first_ts"]).total_seconds()) / 60
        table.append({"player_masked": mask(a["player_id"]), "game_id": a["game_id"],
                      "session_minutes": format(minutes.quantize(Decimal("0.1")), "f"),
                      "contribution": _s(a["contribution"]), "spins": a["spins"], "last_bet": _s(bet),
                      "eligible_levels": eligible})
    table.sort(key=lambda p: -Decimal(p["contribution"]))
    return {"jackpot_id": jid, "status": state, "players": table, "pools": [_pool_view(p, levels) for p in pools],
            "velocity": velocity, "active_players": players, "qualifying_spins_this_cycle": spins or 0,
            "warn_state": warn["new_state"] if warn else None, "warn_changed_at": warn["changed_at"] if warn else None,
            "predicted_drop": predicted, "cycles": cycle_list,
            "recent_operator_actions": [dict(a) for a in actions]}


@api.op("GET", "/v1/jackpots/{jackpot_id}/meters", summary="Meter readings on request (regulatory items 2, 3, 16)",
        tag="monitoring", permission=P.REPORTS_READ, path_model=m.JackpotPath, response=m.Meters)
async def meters(ctx: Ctx, path: m.JackpotPath) -> dict[str, Any]:
    rec = await scoped(ctx, path.jackpot_id)
    jid = rec.jackpot_id
    levels = _levels(rec)
    async with ctx.services.pool.acquire() as conn:
        pools = {(p["level_id"], p["currency"]): p for p in (await _pools(conn, [jid])).get(jid, [])}
        wagers = {r["currency"]: r for r in await conn.fetch(
            "SELECT currency::text AS currency, sum(bet_amount) AS wagers, count(*) AS bets FROM contributions "
            "WHERE jackpot_id = $1 GROUP BY 1", jid)}
        flows = {(r["level_id"], r["currency"]): r for r in await conn.fetch(
            "SELECT level_id, currency::text AS currency, sum(overflow_amount) AS overflow, sum(hidden_amount) AS hidden, "
            "coalesce(sum(overflow_reserve_amount), 0) AS overflow_reserve "
            "FROM contribution_levels WHERE jackpot_id = $1 GROUP BY 1, 2", jid)}
        carried = {(r["level_id"], r["currency"]): r["carried"] for r in await conn.fetch(
            "SELECT level_id, currency::text AS currency, sum(coalesce(carry_in, 0)) AS carried FROM cycles "
            "WHERE jackpot_id = $1 GROUP BY 1, 2", jid)}
        released = {(r["level_id"], r["currency"]): r["released"] for r in await conn.fetch(
            "SELECT level_id, currency::text AS currency, sum(amount) AS released FROM reserve_releases "
            "WHERE jackpot_id = $1 GROUP BY 1, 2", jid)}
        hits = {(r["level_id"], r["currency"]): r for r in await conn.fetch(
            "SELECT h.level_id, h.currency::text AS currency, count(*) AS n, "
            "sum(h.win_amount) - coalesce(max(r.amount), 0) AS won FROM hits h "
            "LEFT JOIN (SELECT level_id, currency, sum(amount) AS amount FROM win_reversals WHERE jackpot_id = $1 "
            "GROUP BY 1, 2) r ON r.level_id = h.level_id AND r.currency = h.currency "
            "WHERE h.jackpot_id = $1 GROUP BY h.level_id, h.currency", jid)}
        adj = {(r["level_id"], r["currency"]): r["net"] for r in await conn.fetch(
            "SELECT level_id, currency::text AS currency, sum(amount) AS net FROM pool_adjustments "
            "WHERE jackpot_id = $1 GROUP BY 1, 2", jid)}
        last = await conn.fetch(
            "SELECT level_id, currency::text AS currency, hit_at, win_amount, winner_player_id, winner_game_id "
            "FROM (SELECT *, row_number() OVER (PARTITION BY level_id, currency ORDER BY hit_at DESC) AS rn "
            "FROM hits WHERE jackpot_id = $1) h WHERE rn <= 25 ORDER BY level_id, currency, hit_at DESC", jid)
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    currencies = rec.steps.get("identity", {}).get("currencies", [])
    for lid, lv in levels.items():
        for cur in currencies:
            k = (lid, cur)
            p, w, f, h = pools.get(k), wagers.get(cur), flows.get(k), hits.get(k)
            # the reserve: hidden increments and overflow kept for the next seed, less what seeds carried
            # and what a decommission released into its prize
            hidden = Decimal(f["hidden"]) + Decimal(f["overflow_reserve"]) if f else Decimal(0)
            out.append({
                "level_id": lid, "level": lv.get("name"), "currency": cur,
                "total_wagers_in": _s(w["wagers"] if w else 0), "qualifying_bets": w["bets"] if w else 0,
                "displayed_amount": _s(p["visible_amount"]) if p else None,
                "current_amount": _s(p["current_amount"]) if p else None,
                "hit_count": h["n"] if h else 0, "total_won": _s(h["won"] if h else 0),
                "overflow": _s(f["overflow"] if f else 0), "reserve": _s(hidden - Decimal(carried.get(k) or 0) - Decimal(released.get(k) or 0)),
                "adjustments_net": _s(adj.get(k) or 0), "read_at": now,
            })
    return {"jackpot_id": jid, "meters": out, "last_hits": [
        {"level_id": r["level_id"], "currency": r["currency"], "hit_at": r["hit_at"], "amount": _s(r["win_amount"]),
         "winner": mask(r["winner_player_id"]), "game_id": r["winner_game_id"]} for r in last]}
