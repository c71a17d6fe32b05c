"""Reconciliation: the PostgreSQL ledger against the live jackpot table, per jackpot, level, currency.

Compared, each to the micro:

per level and currency
  ``net_contributions``  sum(contribution_levels.net_amount)       vs  meters.gross - meters.house
  ``transfers_in``       sum(contribution_levels.transfer_in_amount) vs meters.transfers_in
  ``meter_gap``          0                                         vs  the table's own meter equation
                         (``engine.pool.reconciliation_gap``: inflows = balances + outflows)
  with ``include_events``: ``won`` sum(hits.win_amount) less reversals vs meters.won, ``hits`` count vs meters.hits
per jackpot and currency (level '')
  ``gross``              sum(contributions.gross_amount)           vs  sum over levels of meters.gross
  ``house_cut``          sum(contributions.house_cut_amount)       vs  sum over levels of meters.house

Both sides are taken at the same cut. The jackpot agent publishes a batch's ledger events before
it persists the table value that includes them, and a table value marks the highest bets offset it
applied per bets partition; each ledger row records its bet's partition and offset. So the ledger
side counts only the rows a table value includes (rows written before the offsets were recorded
always count): under continuous bets the ledger is then never ahead of the table, only behind it
by what the ledger sink has not written yet. ``reconcile_settled`` keeps the table cut it read
first and re-reads the ledger until it catches up or ``settle_s`` passes: only a difference that
persists is a mismatch (and one where the ledger holds *more* than the table is never lag). The result is a record (``reconciliation_runs`` / ``_differences``) and
events: ``ReconciliationCompleted`` per jackpot, and ``ReconciliationMismatch`` (an alert, with
the amounts) per jackpot that differs, which puts that jackpot in the fault state
(regulatory item 11) until an operator clears it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from jackpot.engine.events import make_event
from jackpot.engine.pool import JackpotState, reconciliation_gap

from . import metrics
from .events import money

__all__ = ["Difference", "ReconciliationResult", "compare", "ledger_sums", "load_state", "reconcile",
           "reconcile_settled", "record", "RECONCILIATION_COMPLETED", "RECONCILIATION_MISMATCH"]

RECONCILIATION_COMPLETED = "ReconciliationCompleted"
RECONCILIATION_MISMATCH = "ReconciliationMismatch"
LEDGER_LAG_METRICS = frozenset({"net_contributions", "transfers_in", "gross", "house_cut", "won", "hits"})


def _micros(v: Decimal | int | None) -> int:
    if v is None:
        return 0
    if isinstance(v, int):
        return v
    q = Decimal(v).scaleb(6)
    if q != q.to_integral_value():
        raise ValueError(f"amount {v} has more than six decimals")
    return int(q)


def load_state(value: Any) -> JackpotState:
    """A JackpotState, its dict, or a jackpot-table value (``{"state": ...}``) -> JackpotState."""
    if isinstance(value, JackpotState):
        return value
    if "state" in value and "pools" not in value:
        value = value["state"]
    return JackpotState.from_dict(value)


@dataclass(slots=True, frozen=True)
class Difference:
    jackpot_id: str
    level_id: str  # '' for per-currency totals
    currency: str
    metric: str
    ledger: int  # micros (a count for "hits")
    table: int

    @property
    def difference(self) -> int:
        return self.ledger - self.table


@dataclass(slots=True)
class ReconciliationResult:
    run_id: str
    at_ms: int
    jackpots: list[str]
    pools: int
    differences: list[Difference] = field(default_factory=list)
    status: str = "ok"  # ok | mismatch | ledger_behind

    @property
    def ok(self) -> bool:
        return not self.differences

    def faulted(self) -> list[str]:
        """Jackpots whose ledger and table disagree: put these in the fault state (not while the
        ledger is only behind, see ``only_behind``)."""
        if self.status == "ledger_behind":
            return []
        return sorted({d.jackpot_id for d in self.differences})

    def only_behind(self) -> bool:
        """Every difference is the ledger holding less than the table: what sink lag looks like."""
        return bool(self.differences) and all(
            d.metric in LEDGER_LAG_METRICS and d.ledger < d.table for d in self.differences)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "at_ms": self.at_ms, "status": self.status, "jackpots": self.jackpots,
                "pools": self.pools,
                "differences": [asdict(d) | {"difference": d.difference} for d in self.differences]}

    def events(self) -> list[dict]:
        """EngineEvent dicts: one ReconciliationCompleted per jackpot; a ReconciliationMismatch alert
        per jackpot with differences (the amounts in micros, as every engine payload)."""
        out = []
        by: dict[str, list[Difference]] = {}
        for d in self.differences:
            by.setdefault(d.jackpot_id, []).append(d)
        for jid in self.jackpots:
            diffs = by.get(jid, [])
            out.append(make_event(RECONCILIATION_COMPLETED, jid, f"reconcile|{self.run_id}", self.at_ms,
                                  {"run_id": self.run_id, "status": self.status if diffs else "ok",
                                   "differences": len(diffs)}).to_dict())
            if diffs and self.status != "ledger_behind":
                out.append(make_event(RECONCILIATION_MISMATCH, jid, f"reconcile|{self.run_id}|mismatch", self.at_ms, {
                    "run_id": self.run_id,
                    "action": "fault",  # regulatory item 11: stop contributions and triggers, alert, show suspended
                    "differences": [{"level_id": d.level_id, "currency": d.currency, "metric": d.metric,
                                     "ledger_amount": d.ledger, "table_amount": d.table,
                                     "difference": d.difference} for d in diffs],
                }).to_dict())
        return out


# The cut: ($2, $3, $4) = (jackpot, bets partition, highest offset its table value applied), for
# the jackpots in $5 (those compared with a table value; a bare state carries no marks and takes
# every row). A row of a partition the value never applied a bet from is past the cut; a row
# without a recorded offset (written before offsets were) is counted.
_AT_CUT = """
WITH cut(jackpot_id, part, upto) AS (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[]))
SELECT {columns} FROM {table} r
LEFT JOIN cut c ON c.jackpot_id = r.jackpot_id AND c.part = r.source_partition
WHERE r.jackpot_id = ANY($1)
  AND (r.source_partition IS NULL OR r.jackpot_id <> ALL($5::text[]) OR r.source_offset <= c.upto)
GROUP BY {groups}
"""
LEVEL_SQL = _AT_CUT.format(
    columns="r.jackpot_id, r.level_id, r.currency::text AS currency, coalesce(sum(r.net_amount), 0) AS net, "
            "coalesce(sum(r.transfer_in_amount), 0) AS transfers_in",
    table="contribution_levels", groups="1, 2, 3")
CURRENCY_SQL = _AT_CUT.format(
    columns="r.jackpot_id, r.currency::text AS currency, coalesce(sum(r.gross_amount), 0) AS gross, "
            "coalesce(sum(r.house_cut_amount), 0) AS house",
    table="contributions", groups="1, 2")
HITS_SQL = """
SELECT jackpot_id, level_id, currency::text AS currency, sum(won) AS won, sum(hits) AS hits FROM (
    SELECT jackpot_id, level_id, currency, win_amount AS won, 1 AS hits FROM hits WHERE jackpot_id = ANY($1)
    UNION ALL  -- a paid win reversed into its pool is taken off the won meter, not off the hits
    SELECT jackpot_id, level_id, currency, -amount, 0 FROM win_reversals WHERE jackpot_id = ANY($1)
) w GROUP BY 1, 2, 3
"""


Cut = tuple[list[str], list[int], list[int], list[str]]


def cut_of(states: dict[str, Any]) -> Cut:
    """The bets offsets each table value includes, as the arrays the ledger queries take: (jackpot,
    partition, offset) triples, and the jackpots that have a cut (a table value, not a bare state)."""
    jackpots, parts, upto, cut = [], [], [], []
    for jid, value in states.items():
        if not (isinstance(value, dict) and "state" in value and "pools" not in value):
            continue  # a bare state (no marks): every row of the jackpot is compared
        cut.append(jid)
        for part, offset in (value.get("bet_marks") or {}).items():
            jackpots.append(jid)
            parts.append(int(part))
            upto.append(int(offset))
    return jackpots, parts, upto, cut


async def ledger_sums(conn: asyncpg.Connection, jackpot_ids: list[str], include_events: bool = False,
                      cut: Cut = ([], [], [], [])) -> dict:
    """{(jackpot, level, currency, metric): micros} from the ledger tables, in one snapshot, counting
    only the rows at ``cut`` (``cut_of`` the table values compared)."""
    out: dict[tuple[str, str, str, str], int] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        for r in await conn.fetch(LEVEL_SQL, jackpot_ids, *cut):
            out[(r["jackpot_id"], r["level_id"], r["currency"], "net_contributions")] = _micros(r["net"])
            out[(r["jackpot_id"], r["level_id"], r["currency"], "transfers_in")] = _micros(r["transfers_in"])
        for r in await conn.fetch(CURRENCY_SQL, jackpot_ids, *cut):
            out[(r["jackpot_id"], "", r["currency"], "gross")] = _micros(r["gross"])
            out[(r["jackpot_id"], "", r["currency"], "house_cut")] = _micros(r["house"])
        if include_events:
            for r in await conn.fetch(HITS_SQL, jackpot_ids):
                out[(r["jackpot_id"], r["level_id"], r["currency"], "won")] = _micros(r["won"])
                out[(r["jackpot_id"], r["level_id"], r["currency"], "hits")] = int(r["hits"])
    return out


def table_sums(states: dict[str, Any], include_events: bool = False) -> tuple[dict, int]:
    out: dict[tuple[str, str, str, str], int] = {}
    pools = 0
    for jid, value in states.items():
        st = load_state(value)
        for cur, by_level in st.pools.items():
            gross = house = 0
            for lid, p in by_level.items():
                pools += 1
                m = p.meters
                out[(jid, lid, cur, "net_contributions")] = m.gross - m.house
                out[(jid, lid, cur, "transfers_in")] = m.transfers_in
                out[(jid, lid, cur, "meter_gap")] = reconciliation_gap(p)
                if include_events:
                    out[(jid, lid, cur, "won")] = m.won
                    out[(jid, lid, cur, "hits")] = m.hits
                gross += m.gross
                house += m.house
            out[(jid, "", cur, "gross")] = gross
            out[(jid, "", cur, "house_cut")] = house
    return out, pools


def compare(ledger: dict, states: dict[str, Any], *, include_events: bool = False, run_id: str | None = None,
            at_ms: int | None = None) -> ReconciliationResult:
    """Pure comparison of ledger sums with table states (see the module docstring)."""
    table, pools = table_sums(states, include_events)
    jackpots = sorted(states)
    keys = set(table) | {k for k in ledger if k[0] in states}
    diffs = []
    for key in sorted(keys):
        lv = 0 if key[3] == "meter_gap" else ledger.get(key, 0)
        tv = table.get(key, 0)
        if lv != tv:
            diffs.append(Difference(key[0], key[1], key[2], key[3], lv, tv))
    res = ReconciliationResult(run_id or str(uuid.uuid4()), at_ms if at_ms is not None else int(time.time() * 1000),
                               jackpots, pools, diffs)
    if diffs:
        behind = all(d.metric in LEDGER_LAG_METRICS and d.ledger < d.table for d in diffs)
        res.status = "ledger_behind" if behind else "mismatch"
    return res


async def reconcile(conn: asyncpg.Connection, states: dict[str, Any], *, include_events: bool = False,
                    run_id: str | None = None) -> ReconciliationResult:
    """One comparison of the ledger now with the given table states, at their cut."""
    ledger = await ledger_sums(conn, sorted(states), include_events, cut_of(states))
    return compare(ledger, states, include_events=include_events, run_id=run_id)


async def reconcile_settled(conn: asyncpg.Connection, states: Callable[[], Awaitable[dict[str, Any]]], *,
                            settle_s: float = 60.0, interval_s: float = 2.0, include_events: bool = False,
                            run_id: str | None = None) -> ReconciliationResult:
    """Compare until ledger and table agree, or until ``settle_s`` has passed.

    ``states`` is read once: the ledger is re-read at that cut until it has caught up with it. A
    ledger that only trails the table (``ledger_behind``) is retried; after ``settle_s`` any
    remaining difference is reported as ``mismatch``.
    """
    run_id = run_id or str(uuid.uuid4())
    deadline = time.monotonic() + settle_s
    at_cut = await states()
    while True:
        res = await reconcile(conn, at_cut, include_events=include_events, run_id=run_id)
        if res.ok or res.status == "mismatch" or time.monotonic() >= deadline:
            if not res.ok:
                res.status = "mismatch"
            metrics.RECON_DIFF.set(len(res.differences))
            return res
        await asyncio.sleep(interval_s)


async def record(conn: asyncpg.Connection, res: ReconciliationResult) -> None:
    """Keep the run and its differences (idempotent on run_id)."""
    import datetime as dt

    at = dt.datetime.fromtimestamp(res.at_ms / 1000, tz=dt.timezone.utc)
    async with conn.transaction():
        inserted = await conn.fetchval(
            "INSERT INTO reconciliation_runs (run_id, ran_at, status, jackpots, pools, differences, result) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING run_id",
            uuid.UUID(res.run_id), at, res.status, len(res.jackpots), res.pools, len(res.differences),
            json.dumps(res.to_dict()))
        if inserted is not None and res.differences:
            unit = lambda d, v: Decimal(v) if d.metric == "hits" else money(v)  # noqa: E731
            await conn.executemany(
                "INSERT INTO reconciliation_differences (run_id, jackpot_id, level_id, currency, metric, "
                "ledger_amount, table_amount, difference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [(uuid.UUID(res.run_id), d.jackpot_id, d.level_id, d.currency, d.metric, unit(d, d.ledger),
                  unit(d, d.table), unit(d, d.difference)) for d in res.differences])


async def run_once(dsn: str, states: Callable[[], Awaitable[dict[str, Any]]], *, settle_s: float = 60.0,
                   include_events: bool = False) -> ReconciliationResult:
    """The scheduled job's body: settle, record, return (the caller publishes ``res.events()``)."""
    conn = await asyncpg.connect(dsn)
    try:
        res = await reconcile_settled(conn, states, settle_s=settle_s, include_events=include_events)
        await record(conn, res)
        return res
    finally:
        await conn.close()


def summary(res: ReconciliationResult) -> str:
    if res.ok:
        return f"reconciliation {res.run_id}: OK ({len(res.jackpots)} jackpots, {res.pools} pools)"
    lines = [f"reconciliation {res.run_id}: {len(res.differences)} difference(s)"]
    for d in res.differences[:50]:
        lines.append(f"  {d.jackpot_id} {d.level_id or '*'} {d.currency} {d.metric}: ledger {d.ledger} "
                     f"table {d.table} diff {d.difference} (micros)")
    return "\n".join(lines)
