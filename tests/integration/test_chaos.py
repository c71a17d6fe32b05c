"""Chaos: SIGKILL workers at random moments while 100,000 bets flow; nothing is lost or doubled.

Real broker, database, wallet and worker processes. After the run drains, every
(bet, jackpot) pair the pure-engine oracle applies must have exactly one ledger row,
and every pool in the jackpot table must equal the oracle's to the micro (a bet
applied twice would show in the counts and sums).  Two of the jackpots drop every
few hundred bets, so wins are decided, paid and reseeded while workers die: every
win must reach the wallet exactly once and the wallet's balances must equal the wins.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter

import aiohttp
import asyncpg
import pytest

from jackpot.engine.money import to_micros
from jackpot.engine.pool import JackpotState, reconciliation_gap
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import CatchUp, group_lag
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import free_port, wait_for
from .helpers import explained, http_ready, read_events, read_topic, table_value
from .portfolio import Oracle, bets, portfolio

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

BETS = int(os.environ.get("JACKPOT_CHAOS_BETS", "100000"))
KILLS = int(os.environ.get("JACKPOT_CHAOS_KILLS", "5"))
DROPPY = 2  # jackpots that drop, pay and reseed during the run


def compare_pools(actual: JackpotState, expected: JackpotState, drops: bool = False) -> tuple[int, int, int]:
    """(bets counted twice, bets missing, micro-units of difference) over all pools.

    Lifetime meters must match the oracle whatever happened; balances only where no
    drop moved them (a drop's amount depends on its secret target), but every pool's
    flows must reconcile to the micro.
    """
    dup = lost = diff = 0
    for exp in expected.iter_pools():
        act = actual.pool(exp.level_id, exp.currency)
        gap = act.meters.bets - exp.meters.bets
        dup += max(gap, 0)
        lost += max(-gap, 0)
        if not drops:
            growth_act = act.visible + act.hidden - act.seed_amount
            growth_exp = exp.visible + exp.hidden - exp.seed_amount
            diff += abs(growth_act - growth_exp)
        diff += abs(act.meters.gross - exp.meters.gross)
        diff += abs(act.meters.house - exp.meters.house) + abs(reconciliation_gap(act))
    return dup, lost, diff


async def test_sigkill_workers_while_bets_flow(settings, spawn, tmp_path):
    docs = portfolio(8, droppy=DROPPY)
    await publish_configs(settings, docs)
    wallet_url = f"http://127.0.0.1:{free_port()}"
    wallet = spawn("chaos-wallet", "wallet", JACKPOT_WALLET_PORT=wallet_url.rsplit(":", 1)[1])
    await http_ready(f"{wallet_url}/health", procs=[wallet])
    stream = bets(BETS)
    oracle = Oracle(docs)
    for b in stream:
        oracle.apply(b)
    expected_pairs = {(jid, bid) for jid, ids in oracle.applied.items() for bid in ids}

    def start_worker(slot: int, gen: int = 0):
        """A worker process; a restarted one reuses its slot's RocksDB directory."""
        return spawn(f"chaos-worker-{slot}-{gen}", "worker", JACKPOT_DATA_DIR=str(tmp_path / f"w{slot}"),
                     JACKPOT_WORKER_WEB_PORT=str(free_port()), WALLET_URL=wallet_url)

    workers = {0: start_worker(0), 1: start_worker(1)}
    generation = Counter()
    rng = random.Random(2024)
    kills = 0
    done = asyncio.Event()

    async def produce():
        chunk = 5000
        for i in range(0, len(stream), chunk):
            await produce_bets(settings, stream[i:i + chunk])
            await asyncio.sleep(0.5)
        done.set()

    async def chaos():
        nonlocal kills
        await asyncio.sleep(8)
        while kills < KILLS:
            slot = rng.choice(sorted(workers))
            workers[slot].kill()
            kills += 1
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            generation[slot] += 1
            workers[slot] = start_worker(slot, generation[slot])
            if kills == 2:  # a rebalance from scaling out
                workers[2] = start_worker(2)
            await asyncio.sleep(rng.uniform(3.0, 8.0))

    t0 = time.monotonic()
    await asyncio.gather(produce(), chaos())

    conn = await asyncpg.connect(settings.database_url)
    try:
        jackpot_ids = [d["jackpot_id"] for d in docs]

        # drained: the workers and the ledger sink have committed everything there is, or
        # nothing has been committed for five minutes (the comparison then says what is missing)
        topics = [settings.topic(t) for t in ("bets", "jackpot-contributions")]
        last = [-1, time.monotonic()]
        workers_lag = CatchUp(settings, settings.app_id, topics)  # clock ticks keep coming

        async def drained():
            looked = await workers_lag.look()
            lag = sum(max(0, end - committed) for committed, end in looked.values())
            # progress on the bets alone: clock ticks move the input log's offsets every second
            done = sum(committed for tp, (committed, _) in looked.items() if tp.topic == topics[0])
            sink_lag, sink_done = await group_lag(settings, f"{settings.app_id}-ledger-sink",
                                                  [settings.topic("ledger-contributions")])
            if done + sink_done != last[0]:
                last[:] = [done + sink_done, time.monotonic()]
            return (lag == 0 and sink_lag == 0) or time.monotonic() - last[1] > 300

        await wait_for(drained, timeout=2400, interval=2.0, what="workers and ledger sink to drain")
        rows = await conn.fetch(
            "SELECT jackpot_id, bet_id::text AS bet_id FROM contributions WHERE jackpot_id = ANY($1)", jackpot_ids)
    finally:
        await conn.close()
    got_pairs = Counter((r["jackpot_id"], r["bet_id"]) for r in rows)
    lost_rows = len(expected_pairs - set(got_pairs))
    extra_rows = len(set(got_pairs) - expected_pairs)

    # the table, read from its changelog, must equal the oracle to the micro
    dup = lost = diff = 0
    droppy = set(jackpot_ids[:DROPPY])
    for jid in jackpot_ids:
        async def settled(jid=jid):
            rec = await table_value(settings, TABLE_NAME, jid.encode())
            if rec is None:
                return None
            st = JackpotState.from_dict(rec["state"])
            return st if sum(p.meters.bets for p in st.iter_pools()) >= sum(
                p.meters.bets for p in oracle.states[jid].iter_pools()) else None

        state = await explained(wait_for(settled, timeout=120, interval=1.0, what=f"table state of {jid}"),
                                settings, TABLE_NAME, oracle)
        d, lo, df = compare_pools(state, oracle.states[jid], drops=jid in droppy)
        dup, lost, diff = dup + d, lost + lo, diff + df

    # output event ids: the same id always carries the same content
    by_id: dict[str, set[bytes]] = {}
    codec = catalog()
    for msg in await read_topic(settings, settings.topic("pool-updated"), timeout=30):
        by_id.setdefault(str(codec.decode(msg.value)[1]["event_id"]), set()).add(msg.value)
    clashes = sum(1 for values in by_id.values() if len(values) > 1)

    # wins: once a win is announced its credit is confirmed; the wallet holds each win once
    wins, credits = await settled_wins(settings, wallet_url)
    per_cycle = Counter((w["jackpot_id"], w["level_id"], w["currency"], w["cycle_number"]) for w in wins.values())
    double_paid = sum(n - 1 for n in per_cycle.values()) + max(0, credits["credits"] - len(wins))
    paid_diff = sum(credits["balances"].values()) - sum(w["win_micros"] for w in wins.values())

    print(f"\nchaos: bets={len(stream)} pairs={len(expected_pairs)} kills={kills} "
          f"lost={lost_rows + lost} duplicated={dup + extra_rows} conservation_diff={diff} "
          f"wins={len(wins)} double_paid={double_paid} paid_diff={paid_diff} "
          f"id_clashes={clashes} elapsed={time.monotonic() - t0:.0f}s")
    assert kills >= KILLS
    assert (lost_rows, extra_rows, lost, dup, diff) == (0, 0, 0, 0, 0)
    assert clashes == 0
    assert wins, "the droppy jackpots never dropped"
    assert (double_paid, paid_diff) == (0, 0)
    for p in workers.values():
        assert p.alive(), p.log_tail()


async def settled_wins(settings, wallet_url: str) -> tuple[dict[str, dict], dict]:
    """JackpotWon events by id, and the wallet's stats, once every announced win is credited."""
    async with aiohttp.ClientSession() as http:
        async def settled():
            won = {str(w["event_id"]): {**w, "win_micros": to_micros(w["win_amount"])}
                   for w in await read_events(settings, settings.topic("jackpot-won"))}
            stats = await (await http.get(f"{wallet_url}/stats")).json()
            return (won, stats) if stats["credits"] >= len(won) else None

        await asyncio.sleep(5)  # let the last drops finish paying
        return await wait_for(settled, timeout=120, interval=2.0, what="every announced win to be credited")
