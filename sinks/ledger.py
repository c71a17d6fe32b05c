"""The PostgreSQL contribution ledger writer.

Rows arrive in batches from the ledger topic.  Each batch is COPYed into a staging
table and inserted with ``ON CONFLICT DO NOTHING`` on the event id, in one
transaction: a replayed batch (after a crash or a rebalance) adds nothing, and a
half-written batch cannot exist.  Monthly partitions are created as months appear.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import asyncpg

from . import metrics

CONTRIBUTION_COLUMNS = (
    "event_id", "bet_id", "jackpot_id", "player_id", "game_id", "brand_id", "currency",
    "bet_amount", "gross_amount", "house_cut_amount", "bet_ts",
)
LEVEL_COLUMNS = (
    "event_id", "bet_ts", "jackpot_id", "level_id", "currency",
    "net_amount", "visible_amount", "hidden_amount", "overflow_amount", "pending_amount",
    "transfer_in_amount",
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
        ts = e["bet_timestamp"]
        contributions.append((
            e["event_id"], e["bet_id"], e["jackpot_id"], e["player_id"], e["game_id"],
            e["brand_id"], e["currency"], e["bet_amount"], e["gross_amount"],
            e["house_cut_amount"], ts,
        ))
        for lv in e["levels"]:
            levels.append((
                e["event_id"], ts, e["jackpot_id"], lv["level_id"], e["currency"],
                lv["net_amount"], lv["visible_amount"], lv["hidden_amount"], lv["overflow_amount"],
                lv["pending_amount"], lv["transfer_in_amount"],
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


async def write_with_retry(writer: LedgerWriter, events: list[dict], on_outage=None, on_recovery=None) -> int:
    """Retry until PostgreSQL takes the batch: the caller does not ack until then.

    Bets keep queueing on Kafka while the database is down; nothing is dropped.  Any
    other error is retried too (and logged every time): a ledger row is never skipped,
    so a bug stalls this partition loudly instead of losing money from the record.
    """
    delay = 0.2
    down = False
    while True:
        try:
            n = await writer.write(events)
            if down and on_recovery:
                await on_recovery()
            return n
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                asyncpg.CannotConnectNowError, asyncio.TimeoutError) as exc:
            if not down and on_outage:
                await on_outage(exc)
            down = True
            await writer.close()
        except Exception:
            log.exception("ledger batch refused by PostgreSQL; retrying (partition stalled)")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
