"""PostgreSQL down for 30 s in the middle of a 20,000-bet run: nothing lost, zero reconciliation difference.

The outage is real: a PostgreSQL 15 server of this test's own (own data directory and port,
started and stopped with the same ops code as the shared stack) is stopped with ``pg_ctl -m fast``
while bets flow, and started again 30 s later. A private server keeps the shared one (other
engineers' sessions) up. During the outage the worker must keep applying bets to the jackpot
table (only the ledger sink waits, holding its offsets); afterwards the ledger must catch up by
itself, hold exactly the (bet, jackpot) pairs the pure-engine oracle applies, and reconcile with
the table to the micro.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from jackpot.engine.pool import JackpotState
from jackpot.ops.stack import Stack
from jackpot.settings import Settings
from jackpot.sinks.migrate import migrate
from jackpot.sinks.reconcile import reconcile, summary
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import free_port, wait_for
from .helpers import table_value
from .portfolio import Oracle, bets, portfolio
from .test_chaos import compare_pools

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BETS = int(os.environ.get("JACKPOT_OUTAGE_BETS", "20000"))
OUTAGE_S = float(os.environ.get("JACKPOT_OUTAGE_SECONDS", "30"))


@pytest.fixture
def private_postgres():
    """A PostgreSQL server of this test only; yields (stack, service, url)."""
    home = Path("/tmp") / f"jackpot-pg-outage-{uuid.uuid4().hex[:8]}"
    home.mkdir(mode=0o755)
    port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/jackpot"
    stack = Stack(Settings(JACKPOT_STACK_DIR=home, database_url=url))
    svc = stack.postgres
    stack._start_postgres(svc)
    try:
        yield stack, svc, url
    finally:
        pid = svc.recorded_pid(stack.dir)
        if pid is not None:
            stack._stop_postgres(svc, pid)
        shutil.rmtree(home, ignore_errors=True)


async def table_states(settings, jackpot_ids) -> dict[str, JackpotState]:
    out = {}
    for jid in jackpot_ids:
        rec = await table_value(settings, TABLE_NAME, jid.encode())
        if rec is not None:
            out[jid] = JackpotState.from_dict(rec["state"])
    return out


def bets_in(states) -> int:
    return sum(p.meters.bets for st in states.values() for p in st.iter_pools())


async def test_postgres_down_for_30s_loses_nothing_and_reconciles(settings, spawn, tmp_path, private_postgres):
    stack, svc, db_url = private_postgres
    await migrate(db_url)
    docs = portfolio(8, seed=31)
    jackpot_ids = [d["jackpot_id"] for d in docs]
    await publish_configs(settings, docs)
    stream = bets(BETS, seed=37)
    oracle = Oracle(docs)
    for b in stream:
        oracle.apply(b)
    expected_pairs = {(jid, bid) for jid, ids in oracle.applied.items() for bid in ids}

    worker = spawn("outage-worker", "worker", DATABASE_URL=db_url, JACKPOT_DATA_DIR=str(tmp_path / "w"),
                   JACKPOT_WORKER_WEB_PORT=str(free_port()))
    t0 = time.monotonic()
    chunk = 1000
    stop_after = BETS // 3
    outage = {}

    async def ledger_rows() -> int:
        conn = await asyncpg.connect(db_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = ANY($1)", jackpot_ids)
        finally:
            await conn.close()

    async def ledger_started() -> bool:
        return await ledger_rows() > 0

    async def produce():
        for i in range(0, len(stream), chunk):
            await produce_bets(settings, stream[i:i + chunk])
            if i + chunk >= stop_after and "stopped" not in outage:
                # stop in the middle: the worker is applying bets and the ledger holds part of them
                await wait_for(ledger_started, timeout=300, interval=0.5, what="the ledger to take rows")
                outage["ledger_rows_at_stop"] = await ledger_rows()
                outage["table_bets_at_stop"] = bets_in(await table_states(settings, jackpot_ids))
                await asyncio.to_thread(stack._stop_postgres, svc, svc.recorded_pid(stack.dir))
                outage["stopped"] = time.monotonic()
            await asyncio.sleep(0.3)

    await produce()
    assert worker.alive(), worker.log_tail()
    remaining = OUTAGE_S - (time.monotonic() - outage["stopped"])
    if remaining > 0:
        await asyncio.sleep(remaining)
    # still down: the worker kept applying bets to its table meanwhile
    outage["table_bets_before_start"] = bets_in(await table_states(settings, jackpot_ids))
    await asyncio.to_thread(stack._start_postgres, svc)
    outage["duration"] = time.monotonic() - outage["stopped"]
    assert outage["table_bets_before_start"] > outage["table_bets_at_stop"], outage

    conn = await asyncpg.connect(db_url)
    try:
        last = [-1, time.monotonic()]

        async def ledger_settled():
            n = await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = ANY($1)", jackpot_ids)
            if n != last[0]:
                last[:] = [n, time.monotonic()]
            return n >= len(expected_pairs) or time.monotonic() - last[1] > 60

        await wait_for(ledger_settled, timeout=600, interval=1.0, what="ledger to catch up")
        rows = await conn.fetch(
            "SELECT jackpot_id, bet_id::text AS bet_id FROM contributions WHERE jackpot_id = ANY($1)", jackpot_ids)
        got = {(r["jackpot_id"], r["bet_id"]) for r in rows}
        lost, extra, dup_rows = len(expected_pairs - got), len(got - expected_pairs), len(rows) - len(got)

        async def table_settled():
            states = await table_states(settings, jackpot_ids)
            want = sum(p.meters.bets for st in oracle.states.values() for p in st.iter_pools())
            return states if len(states) == len(jackpot_ids) and bets_in(states) >= want else None

        states = await wait_for(table_settled, timeout=120, interval=1.0, what="table to drain")
        dup = lost_t = diff = 0
        for jid in jackpot_ids:
            d, lo, df = compare_pools(states[jid], oracle.states[jid])
            dup, lost_t, diff = dup + d, lost_t + lo, diff + df
        res = await reconcile(conn, states)
    finally:
        await conn.close()

    log = worker.log_path.read_text(errors="replace")
    print(f"\noutage: bets={len(stream)} pairs={len(expected_pairs)} outage={outage['duration']:.1f}s "
          f"ledger_rows_at_stop={outage['ledger_rows_at_stop']} "
          f"table_bets stop->start={outage['table_bets_at_stop']}->{outage['table_bets_before_start']} "
          f"lost={lost + lost_t} duplicated={extra + dup_rows + dup} conservation_diff={diff} "
          f"reconciliation={len(res.differences)} elapsed={time.monotonic() - t0:.0f}s")
    assert outage["duration"] >= OUTAGE_S
    assert 0 < outage["ledger_rows_at_stop"] < len(expected_pairs), outage
    assert (lost, extra, dup_rows, lost_t, dup, diff) == (0, 0, 0, 0, 0, 0)
    assert res.ok, summary(res)
    assert "PostgreSQL unavailable for sink ledger" in log  # the outage was noticed and alerted
    assert worker.alive(), worker.log_tail()
