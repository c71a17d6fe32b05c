"""Budget alerts and the Budget Constraint Mode, from the ledger (spec: Budget Model).

The spec's four budget alerts, per jackpot and currency:

- ``negative_net_position``  the life-time net position (sinks/reports.py) is below zero;
- ``chain_cost``             chain-reaction prizes above 20% of the house cut;
- ``pre_seed_30d``           pre-seed in the last 30 days above the house cut of those 30 days;
- ``cycle_overrun``          a running cycle has lasted more than 150% of the expected duration
                             (the spec's expected value per cycle at the last 30 days' velocity).

Budget Constraint Mode (optional, per currency, across every jackpot; ``budget_constraints``):

- ``max_monthly_cost``   the operator's cost this calendar month (UTC) is the negative of the
                         month's net position: seeds, pre-seed, chain prizes and net adjustments
                         in, less the house cut and overflow revenue (main prizes are paid from
                         the pool those fund, so they are not counted again). Above it:
                         ``monthly_cost`` alert, and with ``pause_activations`` the admin API
                         refuses to activate jackpots in that currency until the month turns
                         or the limit is raised;
- ``max_single_prize``   no level may be configured to pay more (Win Max, chain prizes): the
                         admin API refuses such a configuration;
- ``max_chain_monthly``  chain-reaction prizes paid this month above it: ``chain_budget`` alert.

Alerts become ``BudgetAlert`` engine events (streams/budget.py publishes them from the worker's
leader); the id is derived from the alert and the UTC day, so each stands once a day.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from jackpot.engine.events import EngineEvent, make_event

from .alerts import SYSTEM_JACKPOT
from .reports import expected_value, pnl

__all__ = ["BUDGET_ALERT", "BudgetAlert", "jackpot_alerts", "constraint_alerts", "all_alerts", "constraints",
           "month_start", "month_figures", "activation_refusal", "prize_cap_problems"]

BUDGET_ALERT = "BudgetAlert"
Q = Decimal("0.000001")
OVERRUN = Decimal("1.5")


def _s(v: Any) -> str:
    return format(Decimal(v).quantize(Q), "f")


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    kind: str
    jackpot_id: str  # "*" for an operator-wide constraint
    currency: str
    message: str
    level_id: str | None = None
    figures: dict[str, str] = field(default_factory=dict)

    def event(self, now: dt.datetime) -> EngineEvent:
        cause = f"budget|{self.kind}|{self.currency}|{self.level_id or ''}|{now.date().isoformat()}"
        return make_event(BUDGET_ALERT, self.jackpot_id, cause, int(now.timestamp() * 1000),
                          {"kind": self.kind, "message": self.message, "figures": dict(self.figures)},
                          level_id=self.level_id, currency=self.currency)

    def text(self) -> str:
        return f"{self.currency}: {self.message}"


def month_start(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def jackpot_alerts(conn: asyncpg.Connection, jackpot_id: str, now: dt.datetime) -> list[BudgetAlert]:
    """The four budget alerts of one jackpot."""
    out: list[BudgetAlert] = []
    recent = {r["currency"]: r for r in await pnl(conn, jackpot_id, since=now - dt.timedelta(days=30))}
    for r in await pnl(conn, jackpot_id):
        cur, house = r["currency"], Decimal(r["house_cut"])
        if r["net_position"] < 0:
            out.append(BudgetAlert("negative_net_position", jackpot_id, cur,
                                   f"negative net position {_s(r['net_position'])}",
                                   figures={"net_position": _s(r["net_position"])}))
        if house > 0 and r["prizes_chain"] > house * Decimal("0.2"):
            out.append(BudgetAlert("chain_cost", jackpot_id, cur,
                                   f"chain reaction costs {_s(r['prizes_chain'])} exceed 20% of the house cut {_s(house)}",
                                   figures={"prizes_chain": _s(r["prizes_chain"]), "house_cut": _s(house)}))
        m = recent.get(cur)
        if m is not None and m["pre_seed"] > m["house_cut"]:
            out.append(BudgetAlert("pre_seed_30d", jackpot_id, cur,
                                   f"pre-seed {_s(m['pre_seed'])} over the last 30 days exceeds their house cut "
                                   f"{_s(m['house_cut'])}",
                                   figures={"pre_seed_30d": _s(m["pre_seed"]), "house_cut_30d": _s(m["house_cut"])}))
    out += await _overruns(conn, jackpot_id, now)
    return out


async def _overruns(conn: asyncpg.Connection, jackpot_id: str, now: dt.datetime) -> list[BudgetAlert]:
    try:
        expected = {(r["level_id"], r["currency"]): r for r in await expected_value(conn, jackpot_id)}
    except LookupError:
        return []
    running = await conn.fetch(
        "SELECT DISTINCT ON (level_id, currency) level_id, currency::text AS currency, cycle_number, started_at "
        "FROM cycles WHERE jackpot_id = $1 AND started_at IS NOT NULL AND revealed_at IS NULL "
        "ORDER BY level_id, currency, cycle_number DESC", jackpot_id)
    out = []
    for c in running:
        ev = expected.get((c["level_id"], c["currency"]))
        if ev is None or not ev["cycle_hours"]:
            continue  # no velocity yet: nothing to compare with
        hours = Decimal((now - c["started_at"]).total_seconds()) / 3600
        if hours > ev["cycle_hours"] * OVERRUN:
            out.append(BudgetAlert(
                "cycle_overrun", jackpot_id, c["currency"],
                f"{ev['level']} cycle {c['cycle_number']} has run {_s(hours)} h, over 150% of the expected "
                f"{_s(ev['cycle_hours'])} h", level_id=c["level_id"],
                figures={"hours": _s(hours), "expected_hours": _s(ev["cycle_hours"])}))
    return out


async def constraints(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT currency::text AS currency, max_monthly_cost, max_single_prize, max_chain_monthly, "
                            "pause_activations, updated_by, updated_at FROM budget_constraints ORDER BY currency")
    return {r["currency"]: dict(r) for r in rows}


async def month_figures(conn: asyncpg.Connection, now: dt.datetime) -> dict[str, dict[str, Decimal]]:
    """This month's operator cost and chain prizes per currency, across every jackpot."""
    out: dict[str, dict[str, Decimal]] = {}
    for r in await pnl(conn, since=month_start(now)):
        f = out.setdefault(r["currency"], {"cost": Decimal(0), "chain": Decimal(0)})
        f["cost"] -= r["net_position"]
        f["chain"] += r["prizes_chain"]
    return out


async def constraint_alerts(conn: asyncpg.Connection, now: dt.datetime) -> list[BudgetAlert]:
    limits = await constraints(conn)
    if not limits:
        return []
    figures = await month_figures(conn, now)
    out = []
    for cur, lim in limits.items():
        f = figures.get(cur, {"cost": Decimal(0), "chain": Decimal(0)})
        if lim["max_monthly_cost"] is not None and f["cost"] > lim["max_monthly_cost"]:
            action = "; new activations are paused" if lim["pause_activations"] else ""
            out.append(BudgetAlert("monthly_cost", SYSTEM_JACKPOT, cur,
                                   f"this month's jackpot cost {_s(f['cost'])} exceeds the limit "
                                   f"{_s(lim['max_monthly_cost'])}{action}",
                                   figures={"cost": _s(f["cost"]), "limit": _s(lim["max_monthly_cost"])}))
        if lim["max_chain_monthly"] is not None and f["chain"] > lim["max_chain_monthly"]:
            out.append(BudgetAlert("chain_budget", SYSTEM_JACKPOT, cur,
                                   f"this month's chain reaction prizes {_s(f['chain'])} exceed the budget "
                                   f"{_s(lim['max_chain_monthly'])}",
                                   figures={"chain": _s(f["chain"]), "limit": _s(lim["max_chain_monthly"])}))
    return out


async def live_jackpots(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT c.jackpot_id FROM jackpot_configs c JOIN jackpot_config_versions v "
        "ON v.jackpot_id = c.jackpot_id AND v.version = c.current_version "
        "WHERE v.status IN ('ACTIVE', 'PAUSED', 'DROPPING', 'EXPIRED') ORDER BY 1")
    return [r["jackpot_id"] for r in rows]


async def all_alerts(conn: asyncpg.Connection, now: dt.datetime) -> list[BudgetAlert]:
    out = await constraint_alerts(conn, now)
    for jid in await live_jackpots(conn):
        out += await jackpot_alerts(conn, jid, now)
    return out


async def activation_refusal(conn: asyncpg.Connection, currencies: list[str], now: dt.datetime) -> str | None:
    """Why a jackpot in these currencies may not be activated now (Budget Constraint Mode), or None."""
    limits = await constraints(conn)
    wanted = [c for c in currencies if c in limits and limits[c]["pause_activations"]
              and limits[c]["max_monthly_cost"] is not None]
    if not wanted:
        return None
    figures = await month_figures(conn, now)
    for cur in wanted:
        cost = figures.get(cur, {}).get("cost", Decimal(0))
        if cost > limits[cur]["max_monthly_cost"]:
            return (f"this month's {cur} jackpot cost {_s(cost)} exceeds the budget limit "
                    f"{_s(limits[cur]['max_monthly_cost'])}: activations are paused until next month or a higher limit")
    return None


async def prize_cap_problems(conn: asyncpg.Connection, config: dict[str, Any]) -> list[str]:
    """Levels that could pay more than ``max_single_prize`` of their currency (Win Max, chain prizes)."""
    limits = {c: v["max_single_prize"] for c, v in (await constraints(conn)).items() if v["max_single_prize"] is not None}
    if not limits:
        return []
    from jackpot.engine.config import Jackpot

    jp = Jackpot.model_validate(json.loads(json.dumps(config, default=str)))
    out = []
    for lv in jp.levels:
        for cur in jp.currencies:
            cap = limits.get(cur)
            if cap is None:
                continue
            a = lv.amounts_for(cur)
            if a.win_max > cap:
                out.append(f"level '{lv.name}' {cur}: Win Max {_s(a.win_max)} exceeds the budget's maximum single "
                           f"prize {_s(cap)}")
            chain = a.chain_prize_amounts if a.chain_prize_amounts is not None else lv.chain_reaction.prize_amounts
            if lv.chain_reaction.enabled and chain and max(chain) > cap:
                out.append(f"level '{lv.name}' {cur}: a chain reaction prize of {_s(max(chain))} exceeds the "
                           f"budget's maximum single prize {_s(cap)}")
    return out
