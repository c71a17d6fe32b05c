"""The PostgreSQL contribution ledger writer.

Rows arrive in batches from the ledger topic.  Each batch is COPYed into a staging
table and inserted with ``ON CONFLICT DO NOTHING`` on the event id, in one
transaction: a replayed batch (after a crash or a rebalance) adds nothing, and a
half-written batch cannot exist.  Monthly partitions are created as months appear.
A row PostgreSQL refuses as bad data is isolated and handed back (``write_with_retry``'s
``on_bad``) instead of stalling its partition forever.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from decimal import Decimal

import asyncpg

from . import metrics

CONTRIBUTION_COLUMNS = (
    "event_id", "bet_id", "jackpot_id", "player_id", "game_id", "brand_id", "currency",
    "bet_amount", "gross_amount", "house_cut_amount", "bet_ts", "provider_ts", "source_partition", "source_offset",
    "bet_currency", "original_bet_amount", "fx_rate",
)
LEVEL_COLUMNS = (
    "event_id", "bet_ts", "jackpot_id", "level_id", "currency",
    "net_amount", "visible_amount", "hidden_amount", "overflow_amount", "pending_amount",
    "transfer_in_amount", "source_partition", "source_offset", "overflow_reserve_amount", "overflow_revenue_amount",
)
PARTITIONED = ("contributions", "contribution_levels")
log = logging.getLogger(__name__)


def month_bounds(ts: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = ts.astimezone(dt.timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def rows_from_events(events: list[dict]) -> tuple[list[tuple], list[tuple]]:
    """ContributionApplied records -> (contribution rows, level rows)."""
    contributions, levels = [], []
    for e in events:
        ts = e["timestamp"]  # received: the engine's time (docs/providers.md), not the provider's
        # the bet's place on the bets topic (NULL when an older writer did not say): reconciliation's cut
        partition, offset = e.get("source_partition", -1), e.get("source_offset", -1)
        source = (partition, offset) if partition is not None and partition >= 0 else (None, None)
        contributions.append((
            e["event_id"], e["bet_id"], e["jackpot_id"], e["player_id"], e["game_id"],
            e["brand_id"], e["currency"], e["bet_amount"], e["gross_amount"],
            e["house_cut_amount"], ts, e["bet_timestamp"], *source,
            # network jackpots: the bet before conversion and the rate (NULL otherwise, and before v4)
            e.get("bet_currency"), e.get("original_bet_amount"),
            Decimal(e["fx_rate"]) if e.get("fx_rate") else None,
        ))
        for lv in e["levels"]:
            levels.append((
                e["event_id"], ts, e["jackpot_id"], lv["level_id"], e["currency"],
                lv["net_amount"], lv["visible_amount"], lv["hidden_amount"], lv["overflow_amount"],
                lv["pending_amount"], lv["transfer_in_amount"], *source,
                # where the overflow went (NULL from writers before ContributionApplied v3)
                lv.get("overflow_reserve_amount"), lv.get("overflow_revenue_amount"),
            ))
    return contributions, levels


class PartitionedWriter:
    """A pooled PostgreSQL writer for tables partitioned by month (``partitioned`` names them).

    Partitions are created as months appear in the data; creating one that another worker
    created a moment earlier is not an error.
    """

    partitioned: tuple[str, ...] = ()

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None
        self._months: set[dt.datetime] = set()

    async def start(self) -> None:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def _ensure_partitions(self, conn: asyncpg.Connection, stamps) -> None:
        for start, end in sorted({month_bounds(ts) for ts in stamps}):
            if start in self._months:
                continue
            for table in self.partitioned:
                try:
                    await conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {table}_{start:%Y_%m} PARTITION OF {table} "
                        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                    )
                except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
                    pass  # another worker created it between our check and our create
            self._months.add(start)


class LedgerWriter(PartitionedWriter):
    partitioned = PARTITIONED

    async def write(self, events: list[dict]) -> int:
        """Write a batch idempotently; return the number of new contribution rows."""
        if not events:
            return 0
        await self.start()
        assert self.pool is not None
        t0 = time.monotonic()
        contributions, levels = rows_from_events(events)
        async with self.pool.acquire() as conn:
            await self._ensure_partitions(conn, [row[10] for row in contributions])
            async with conn.transaction():
                await conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS stage_contributions "
                    "(LIKE contributions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
                await conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS stage_contribution_levels "
                    "(LIKE contribution_levels INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
                await conn.copy_records_to_table(
                    "stage_contributions", records=contributions, columns=CONTRIBUTION_COLUMNS
                )
                await conn.copy_records_to_table(
                    "stage_contribution_levels", records=levels, columns=LEVEL_COLUMNS
                )
                cols = ", ".join(CONTRIBUTION_COLUMNS)
                status = await conn.execute(
                    f"INSERT INTO contributions ({cols}) SELECT {cols} FROM stage_contributions "
                    "ON CONFLICT DO NOTHING"
                )
                lcols = ", ".join(LEVEL_COLUMNS)
                await conn.execute(
                    f"INSERT INTO contribution_levels ({lcols}) SELECT {lcols} "
                    "FROM stage_contribution_levels ON CONFLICT DO NOTHING"
                )
        new = int(status.split()[-1])
        newest = max(row[10] for row in contributions)
        metrics.observe_batch("ledger", len(events), new, int(newest.timestamp() * 1000), time.monotonic() - t0)
        return new


# What PostgreSQL refuses because of a row's own content: retrying it can never succeed (SQLSTATE
# class 22, data exceptions: NUL in text, numeric overflow, bad text representation...; and the
# row's NOT NULL and CHECK constraints). Unique, foreign-key and exclusion violations can come
# from concurrent writers, so they stay retried like any other error.
BAD_DATA = (asyncpg.DataError, asyncpg.NotNullViolationError, asyncpg.CheckViolationError)
OUTAGE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
          asyncio.TimeoutError)

# on_bad(index in the batch, the refusal): the caller dead-letters the row
OnBad = Callable[[int, Exception], Awaitable[None]]


async def write_with_retry(writer: LedgerWriter, events: list[dict], on_outage=None, on_recovery=None,
                           on_bad: OnBad | None = None) -> int:
    """Retry until PostgreSQL takes the batch: the caller does not ack until then.

    Bets keep queueing on Kafka while the database is down; nothing is dropped.  A batch
    PostgreSQL refuses as bad data (:data:`BAD_DATA`) is split until each refused row is alone;
    each such row goes to ``on_bad`` once (the sinks dead-letter it; without ``on_bad`` it is
    logged and skipped) and the rest is written.  Any other error is retried (and logged every
    time), so a bug stalls this partition loudly instead of losing money from the record.
    """
    delay = 0.2
    down = False
    refused: set[int] = set()  # rows already handed to on_bad: a retry after an outage skips them
    while True:
        try:
            todo = [i for i in range(len(events)) if i not in refused]
            n = await _write_isolating(writer, events, todo, refused, on_bad)
            if down and on_recovery:
                await on_recovery()
            return n
        except OUTAGE as exc:
            if not down and on_outage:
                await on_outage(exc)
            down = True
            await writer.close()
        except Exception:
            log.exception("ledger batch refused by PostgreSQL; retrying (partition stalled)")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def _write_isolating(writer: LedgerWriter, events: list[dict], todo: list[int], refused: set[int],
                           on_bad: OnBad | None) -> int:
    """Write ``events[i] for i in todo``; on bad data, halve until the refused rows are alone
    (k bad rows among n cost about 2k log2 n writes; the writes are idempotent)."""
    if not todo:
        return 0
    try:
        return await writer.write([events[i] for i in todo])
    except BAD_DATA as exc:
        if len(todo) > 1:
            mid = len(todo) // 2
            return (await _write_isolating(writer, events, todo[:mid], refused, on_bad)
                    + await _write_isolating(writer, events, todo[mid:], refused, on_bad))
        index = todo[0]
        if on_bad is None:
            log.error("row refused by PostgreSQL as bad data; skipped",
                      extra={"event_id": str(events[index].get("event_id")), "error": str(exc)})
        else:
            await on_bad(index, exc)
        refused.add(index)
        return 0
