"""Reports from SQL: the per-jackpot P&L of the budget model, expected value per cycle, CSV export.

P&L lines (spec "Budget Model"), per jackpot and currency, from the ledger tables:

  gross_contributions    sum(contributions.gross_amount)
  house_cut              sum(contributions.house_cut_amount)
  net_pool_contributions gross - house cut
  pre_seed               PoolAdjusted with reason PRE_SEED
  seeds                  operator-funded random seed draws of every cycle (cycles.seed_draw)
  reserve_carried        players' hidden reserve carried into those cycles' reset amounts
                         (cycles.carry_in): part of the seeds players funded, not a cost
  prizes_main            every main win that debited a pool (hits), less the wins reversed (win_reversals)
  prizes_chain           chain-reaction prizes paid (confirmed, escrow or resolved)
  adjustments_in / _out  other PoolAdjusted, added / removed (adjustments_net = in - out)
  balance_transfers      TRANSFER adjustments, net: players' money moved between levels or
                         jackpots (decommission, carry-over), not operator money: not in the net position
  overflow_revenue       overflow above Win Max booked to operator revenue (contribution_levels)
  net_position           house cut + overflow revenue + adjustments out - adjustments in - seeds
                         - pre-seed - chain prizes

The net position follows ``engine.budget.budget_report`` exactly (the spec's "House Cut + Adj -
Seeds - Prizes", where main prizes are paid from the pool that net contributions and the seeds
funded, so only the operator-funded parts count as cost; subtracting main prizes too would count
every seed twice). Overflow booked to operator revenue is counted from the ledger rows that
say where their overflow went (ContributionApplied v3); rows written before carry NULL and count
as none (``overflow_unknown`` says how many such rows had an overflow).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import asyncpg
import click

__all__ = ["PNL_SQL", "pnl", "expected_value", "to_csv", "report"]

PAID = ("confirmed", "escrow", "resolved")

PNL_SQL = """
WITH keys AS (
    SELECT jackpot_id, currency FROM contributions WHERE ($1::text IS NULL OR jackpot_id = $1)
      AND ($3::timestamptz IS NULL OR bet_ts >= $3)
    UNION SELECT jackpot_id, currency FROM cycles WHERE ($1::text IS NULL OR jackpot_id = $1)
      AND ($3::timestamptz IS NULL OR started_at >= $3)
    UNION SELECT jackpot_id, currency FROM pool_adjustments WHERE ($1::text IS NULL OR jackpot_id = $1)
      AND ($3::timestamptz IS NULL OR adjusted_at >= $3)
), c AS (
    SELECT jackpot_id, currency, sum(gross_amount) AS gross, sum(house_cut_amount) AS house, count(*) AS bets
    FROM contributions WHERE ($1::text IS NULL OR jackpot_id = $1) AND ($3::timestamptz IS NULL OR bet_ts >= $3)
    GROUP BY 1, 2
), o AS (
    SELECT jackpot_id, currency, sum(overflow_revenue_amount) AS revenue,
           count(*) FILTER (WHERE overflow_amount > 0 AND overflow_revenue_amount IS NULL) AS unknown
    FROM contribution_levels WHERE ($1::text IS NULL OR jackpot_id = $1) AND overflow_amount > 0
      AND ($3::timestamptz IS NULL OR bet_ts >= $3) GROUP BY 1, 2
), a AS (
    SELECT jackpot_id, currency,
           sum(amount) FILTER (WHERE reason = 'PRE_SEED') AS pre_seed,
           sum(amount) FILTER (WHERE reason NOT IN ('PRE_SEED', 'TRANSFER') AND amount > 0) AS adj_in,
           -sum(amount) FILTER (WHERE reason NOT IN ('PRE_SEED', 'TRANSFER') AND amount < 0) AS adj_out,
           sum(amount) FILTER (WHERE reason = 'TRANSFER') AS transfers
    FROM pool_adjustments WHERE ($1::text IS NULL OR jackpot_id = $1) AND ($3::timestamptz IS NULL OR adjusted_at >= $3)
    GROUP BY 1, 2
), s AS (
    SELECT jackpot_id, currency, sum(coalesce(seed_draw, seed_amount)) AS seeds, count(*) AS cycles,
           sum(coalesce(carry_in, 0)) AS carried,
           count(*) FILTER (WHERE seed_draw IS NULL) AS seeds_estimated
    FROM cycles WHERE ($1::text IS NULL OR jackpot_id = $1) AND ($3::timestamptz IS NULL OR started_at >= $3)
    GROUP BY 1, 2
), h AS (
    SELECT jackpot_id, currency, sum(win_amount) AS prizes_main, count(*) AS hits
    FROM hits WHERE ($1::text IS NULL OR jackpot_id = $1) AND ($3::timestamptz IS NULL OR hit_at >= $3)
    GROUP BY 1, 2
), rv AS (
    SELECT jackpot_id, currency, sum(amount) AS reversed
    FROM win_reversals WHERE ($1::text IS NULL OR jackpot_id = $1) AND ($3::timestamptz IS NULL OR reversed_at >= $3)
    GROUP BY 1, 2
), ch AS (
    SELECT jackpot_id, currency, sum(amount) AS prizes_chain
    FROM prizes WHERE kind = 'chain_reaction' AND payout_status = ANY($2::text[])
      AND ($1::text IS NULL OR jackpot_id = $1) AND ($3::timestamptz IS NULL OR status_at >= $3) GROUP BY 1, 2
)
SELECT k.jackpot_id, k.currency::text AS currency,
       coalesce(c.bets, 0) AS bets,
       coalesce(c.gross, 0)::numeric(20,6) AS gross_contributions,
       coalesce(c.house, 0)::numeric(20,6) AS house_cut,
       (coalesce(c.gross, 0) - coalesce(c.house, 0))::numeric(20,6) AS net_pool_contributions,
       coalesce(a.pre_seed, 0)::numeric(20,6) AS pre_seed,
       coalesce(s.seeds, 0)::numeric(20,6) AS seeds,
       coalesce(s.carried, 0)::numeric(20,6) AS reserve_carried,
       (coalesce(h.prizes_main, 0) - coalesce(rv.reversed, 0))::numeric(20,6) AS prizes_main,
       coalesce(ch.prizes_chain, 0)::numeric(20,6) AS prizes_chain,
       coalesce(a.adj_in, 0)::numeric(20,6) AS adjustments_in,
       coalesce(a.adj_out, 0)::numeric(20,6) AS adjustments_out,
       (coalesce(a.adj_in, 0) - coalesce(a.adj_out, 0))::numeric(20,6) AS adjustments_net,
       coalesce(o.revenue, 0)::numeric(20,6) AS overflow_revenue,
       coalesce(a.transfers, 0)::numeric(20,6) AS balance_transfers,
       (coalesce(c.house, 0) + coalesce(o.revenue, 0) + coalesce(a.adj_out, 0) - coalesce(a.adj_in, 0) - coalesce(s.seeds, 0)
        - coalesce(a.pre_seed, 0) - coalesce(ch.prizes_chain, 0))::numeric(20,6) AS net_position,
       coalesce(s.cycles, 0) AS cycles, coalesce(h.hits, 0) AS hits,
       coalesce(s.seeds_estimated, 0) AS seeds_estimated, coalesce(o.unknown, 0) AS overflow_unknown
FROM keys k
LEFT JOIN c USING (jackpot_id, currency)
LEFT JOIN o USING (jackpot_id, currency)
LEFT JOIN a USING (jackpot_id, currency)
LEFT JOIN s USING (jackpot_id, currency)
LEFT JOIN h USING (jackpot_id, currency)
LEFT JOIN rv USING (jackpot_id, currency)
LEFT JOIN ch USING (jackpot_id, currency)
ORDER BY 1, 2
"""

PNL_COLUMNS = ("jackpot_id", "currency", "bets", "gross_contributions", "house_cut", "net_pool_contributions",
               "pre_seed", "seeds", "reserve_carried", "prizes_main", "prizes_chain", "adjustments_in", "adjustments_out",
               "adjustments_net", "overflow_revenue", "balance_transfers", "net_position", "cycles", "hits", "seeds_estimated",
               "overflow_unknown")


async def pnl(conn: asyncpg.Connection, jackpot_id: str | None = None, *,
              since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The P&L per jackpot and currency (Decimal amounts at scale 6); ``since`` limits it to the
    movements from that time on (a month's cost, a 30-day window), else the whole life."""
    return [dict(r) for r in await conn.fetch(PNL_SQL, jackpot_id, list(PAID), since)]


CYCLES_SQL = """
WITH done AS (
    SELECT cy.jackpot_id, cy.level_id, cy.currency, cy.cycle_number, cy.seed_amount, cy.started_at,
           cy.revealed_at, h.win_amount, h.hit_at
    FROM cycles cy
    JOIN hits h ON h.jackpot_id = cy.jackpot_id AND h.level_id = cy.level_id AND h.currency = cy.currency
               AND h.cycle_number = cy.cycle_number
    WHERE cy.jackpot_id = $1
)
SELECT level_id, currency::text AS currency, count(*) AS cycles,
       avg(seed_amount) AS avg_seed, avg(win_amount) AS avg_prize,
       avg(extract(epoch FROM (hit_at - started_at)) / 3600.0) AS avg_hours
FROM done GROUP BY 1, 2 ORDER BY 1, 2
"""
VELOCITY_SQL = """
SELECT level_id, currency::text AS currency, sum(net_amount) AS net,
       extract(epoch FROM (max(bet_ts) - min(bet_ts))) / 3600.0 AS hours
FROM contribution_levels WHERE jackpot_id = $1 AND bet_ts >= now() - make_interval(days => $2)
GROUP BY 1, 2
"""


EV_FIELDS = ("avg_seed", "avg_target", "carried_reserve", "reset_amount", "avg_prize", "net_contributions",
             "contributions_needed", "house_cut_per_cycle", "chain_cost", "seed_cost", "net_per_cycle",
             "cycle_hours", "monthly_net")


async def expected_value(conn: asyncpg.Connection, jackpot_id: str, *, velocity_days: int = 30) -> list[dict[str, Any]]:
    """Expected value per cycle (``engine.budget.expected_cycle``: who funds each part) from the current
    configuration version, next to the actual averages of the completed cycles.

    The gross velocity of a level is its net contributions per hour over the last ``velocity_days``
    divided by (1 - house cut)."""
    from jackpot.engine.budget import expected_cycle
    from jackpot.engine.config import Jackpot

    doc = await conn.fetchval(
        "SELECT v.config FROM jackpot_configs c JOIN jackpot_config_versions v "
        "ON v.jackpot_id = c.jackpot_id AND v.version = c.current_version WHERE c.jackpot_id = $1", jackpot_id)
    if doc is None:
        raise LookupError(f"no configuration recorded for jackpot {jackpot_id}")
    jp = Jackpot.model_validate(json.loads(doc) if isinstance(doc, str) else doc)
    actual = {(r["level_id"], r["currency"]): r for r in await conn.fetch(CYCLES_SQL, jackpot_id)}
    velocity = {}
    for r in await conn.fetch(VELOCITY_SQL, jackpot_id, velocity_days):
        if r["hours"] and r["net"] and jp.house_cut < 1:
            velocity[(r["level_id"], r["currency"])] = Decimal(r["net"]) / (1 - jp.house_cut) / Decimal(r["hours"])
    rows = []
    for lv in jp.levels:
        lid = str(lv.level_id)
        for cur in jp.currencies:
            ev = expected_cycle(lv, cur, jp.house_cut, gross_velocity_per_hour=velocity.get((lid, cur)))
            a = actual.get((lid, cur))
            q = lambda v: None if v is None else Decimal(v).quantize(Decimal("0.000001"))  # noqa: E731
            rows.append({
                "jackpot_id": jackpot_id, "level_id": lid, "level": lv.name, "currency": cur,
                **{f: q(getattr(ev, f)) for f in EV_FIELDS},
                "actual_cycles": a["cycles"] if a else 0, "actual_avg_seed": q(a["avg_seed"]) if a else None,
                "actual_avg_prize": q(a["avg_prize"]) if a else None,
                "actual_avg_hours": q(a["avg_hours"]) if a else None,
            })
    return rows


def to_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str] | None = None) -> str:
    """Rows as CSV (amounts as plain decimals with their full scale, never floats)."""
    rows = list(rows)
    cols = list(columns or (rows[0].keys() if rows else PNL_COLUMNS))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (format(r[c], "f") if isinstance(r[c], Decimal) else r[c])
                    for c in cols])
    return buf.getvalue()


# ------------------------------------------------------------------ CLI
def _dsn(database_url: str | None) -> str:
    if database_url:
        return database_url
    from jackpot.settings import get_settings

    return get_settings().database_url


async def _run(dsn: str, fn, *args, **kw):
    conn = await asyncpg.connect(dsn)
    try:
        return await fn(conn, *args, **kw)
    finally:
        await conn.close()


def _emit(rows: list[dict], columns, out: str | None, fmt: str) -> None:
    text = to_csv(rows, columns) if fmt == "csv" else _table(rows, columns)
    if out:
        with open(out, "w", newline="") as f:
            f.write(to_csv(rows, columns))
        click.echo(f"wrote {len(rows)} rows to {out}", err=True)
    else:
        sys.stdout.write(text)


def _table(rows: list[dict], columns) -> str:
    cols = list(columns or (rows[0].keys() if rows else []))
    cells = [[str(c) for c in cols]] + [["" if r.get(c) is None else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells) + "\n"


@click.group("report")
def report() -> None:
    """Reports from the PostgreSQL ledger (P&L, expected value per cycle)."""


@report.command("pnl")
@click.option("--jackpot", "jackpot_id", default=None, help="One jackpot id (default: every jackpot).")
@click.option("--csv", "out", default=None, type=click.Path(dir_okay=False), help="Write CSV to this file.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.option("--database-url", envvar="DATABASE_URL", default=None)
def pnl_command(jackpot_id: str | None, out: str | None, fmt: str, database_url: str | None) -> None:
    """Per-jackpot, per-currency P&L of the budget model."""
    rows = asyncio.run(_run(_dsn(database_url), pnl, jackpot_id))
    _emit(rows, PNL_COLUMNS, out, fmt)


@report.command("ev")
@click.option("--jackpot", "jackpot_id", required=True, help="Jackpot id.")
@click.option("--velocity-days", default=30, show_default=True, help="Window for the contribution velocity.")
@click.option("--csv", "out", default=None, type=click.Path(dir_okay=False), help="Write CSV to this file.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.option("--database-url", envvar="DATABASE_URL", default=None)
def ev_command(jackpot_id: str, velocity_days: int, out: str | None, fmt: str, database_url: str | None) -> None:
    """Expected value per cycle per level and currency, with the actual averages."""
    try:
        rows = asyncio.run(_run(_dsn(database_url), expected_value, jackpot_id, velocity_days=velocity_days))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(rows, None, out, fmt)
