"""The engine's benchmarks, each against a baseline measured in the same run on the same stack.

One run, in order (each phase reuses what the one before left running; the sinks run in a
process of their own throughout, as ops/k8s deploys them, so the worker measured is router and
jackpot agent):

1. ``e2e_throughput`` and ``cpu_per_bet_vs_faust``: a worker is started and waited for until
   ready (tables recovered), so its start-up is outside every figure; then a backlog of bets is
   produced and worked through.  Throughput is bets/s from the first contribution request to the
   last ledger event (record timestamps), against a raw aiokafka consume-produce passthrough of
   the same messages.  CPU per bet is the worker process's own CPU time (utime + stime of
   /proc/<pid>/stat, every thread, not wall time) from before the backlog to its group having
   consumed it, divided by the bets; its baseline is the same measure of a minimal Faust
   consume-produce passthrough (``bench/faust_passthrough.py``, a process of its own) over the
   same messages, from its partition assignment to the last forward acknowledged.  The sinks'
   and the broker's CPU per bet over the same window go in the detail.  Full mode repeats the
   worker run and both passthroughs three times and reports medians.
2. ``hot_jackpot_vs_rowlock``: bets/s of one hot jackpot (every bet on one partition) versus
   the classic design: a PostgreSQL transaction per bet that updates the pool rows
   (``UPDATE ... SET amount = amount + x``) and inserts the bet's ledger row, from several
   connections.
3. ``latency_capacity_share`` (with ``latency_pool_p99_ms`` / ``latency_ws_p99_ms``): open loop.
   A sender process of its own (``bench/openloop.py``) sends bets on a fixed schedule at 25%,
   50% and 75% of the capacity ``e2e_throughput`` measured; each bet's latency is from its
   scheduled send time to the PoolUpdated that includes it consumed, and to the WebSocket frame
   carrying it (gateway smoothing off), so a stalled sender or worker cannot hide its delay.
   The value is the highest of those rates (as a share of capacity) whose WebSocket p99 is under
   50 ms, 0 if none; the two p99 lines are the 50% rate's.
4. ``worker_rss_mb``: the worker's resident memory after N bets across 20 jackpots
   (full: 1,000,000 bets and 100,000 players).
5. ``recovery_s``: SIGKILL of one of two workers to the first PoolUpdated of every jackpot
   it owned, from the survivor; the detail splits it into detection (the group notices),
   rebalance (the survivor alone, stable), restore (the survivor ready: its tables rebuilt, with
   the changelog records and bytes that took) and first output after the restore.
6. ``sink_vs_copy``: ledger rows/s through the ledger sink's writer versus plain ``COPY`` of the
   same rows, each into a fresh database.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import pickle
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jackpot.settings import Settings
from jackpot.streams import topics as T
from jackpot.streams.batches import CONTRIBUTIONS, LEDGER, Framing
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import assign_all, client_options, producer
from jackpot.streams.loadgen import BetStream, run_loadgen

from .harness import (BenchRun, CpuMeter, Process, Result, TopicWatcher, bench_portfolio, broker_pid, encode_bets,
                      hot_stream, log, send_all)

NAMES = ("e2e_throughput", "cpu_per_bet_vs_faust", "hot_jackpot_vs_rowlock", "latency_capacity_share",
         "latency_pool_p99_ms", "latency_ws_p99_ms", "recovery_s", "sink_vs_copy", "worker_rss_mb",
         "campaign_latency_p99_ms")
LATENCY_NAMES = {"latency_capacity_share", "latency_pool_p99_ms", "latency_ws_p99_ms"}
LATENCY_TARGET_MS = 50.0
LATENCY_SHARES = (0.25, 0.5, 0.75)  # offered rates, as shares of the measured capacity
CPU_TARGET_RATIO_MAX = 3
IDLE_S = 2.0  # a ready worker settles this long, then its idle CPU is read over as long


@dataclass(frozen=True)
class Sizes:
    e2e_bets: int
    hot_bets: int
    rowlock_bets: int
    rowlock_connections: int
    latency_s: float  # seconds at each offered rate
    rss_bets: int  # total bets the worker has seen when its memory is read
    players: int
    repeats: int  # e2e/CPU runs and passthrough baselines: the median is reported
    jackpots: int = 20
    recovery_rate: float = 60.0  # bets/s during the recovery run: under one worker's capacity
    campaign_jackpots: int = 5  # jackpots going On Fire under one campaign rule ...
    campaign_players: int = 40  # ... each with this many opted-in players to push

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(e2e_bets=4000, hot_bets=3000, rowlock_bets=2000, rowlock_connections=8,
                   latency_s=3, rss_bets=0, players=20_000, repeats=1)

    @classmethod
    def full(cls) -> "Sizes":
        return cls(e2e_bets=50_000, hot_bets=30_000, rowlock_bets=20_000, rowlock_connections=8,
                   latency_s=30, rss_bets=1_000_000, players=100_000, repeats=3, campaign_jackpots=20,
                   campaign_players=100)


def _patience(bets: int) -> float:
    """How long to wait for a worker to work through ``bets``: generous (a slow, shared machine
    runs at tens of bets per second), so a timeout means stuck, not slow."""
    return 600 + bets * 0.1


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def median(values: list[float | None]) -> float | None:
    """The median of the values that are not None (None if there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def capacity_share(points: list[dict], limit_ms: float = LATENCY_TARGET_MS, key: str = "ws_p99_ms") -> float:
    """The highest offered share of capacity whose ``key`` latency is under ``limit_ms``; 0 when
    no rate meets it (a rate without samples does not)."""
    ok = [p["share"] for p in points if p.get(key) is not None and p[key] < limit_ms]
    return max(ok, default=0.0)


def per_bet_us(cpu_s: float | None, bets: int) -> float | None:
    """CPU microseconds per bet (None when the process was not measured)."""
    return None if cpu_s is None or bets <= 0 else cpu_s / bets * 1e6


def _r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


# ------------------------------------------------------------------ 1. e2e
async def _create_topic(run: BenchRun, name: str) -> str:
    admin = AIOKafkaAdminClient(**client_options(run.settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=run.settings.partitions, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def passthrough(run: BenchRun, n: int, k: int = 0) -> float:
    """The ceiling: consume the bets topic and produce every message unchanged, no processing
    (aiokafka, in the bench's process); messages per second."""
    s = run.settings
    target = await _create_topic(run, s.topic(f"bench-passthrough-{k}"))
    c = AIOKafkaConsumer(**client_options(s), group_id=None, enable_auto_commit=False,
                         max_partition_fetch_bytes=4 << 20)
    await c.start()
    try:
        tps = await assign_all(c, run.topic(T.BETS))
        await c.seek_to_beginning(*tps)
        async with producer(s, linger_ms=5) as prod:
            count, pending, t0 = 0, [], None
            while count < n:
                batches = await c.getmany(timeout_ms=500, max_records=5000)
                if batches and t0 is None:
                    t0 = time.monotonic()
                for msgs in batches.values():
                    for m in msgs:
                        pending.append(await prod.send(target, key=m.key, value=m.value))
                        count += 1
                if len(pending) >= 5000:
                    await asyncio.gather(*pending)
                    pending.clear()
            await asyncio.gather(*pending)
            return count / (time.monotonic() - t0)
    finally:
        await c.stop()


def read_status(text: str) -> list[dict]:
    """The JSON status lines of a Faust passthrough (a line being written is skipped)."""
    out = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def passthrough_window(events: list[dict], n: int) -> dict:
    """CPU and wall time of a Faust passthrough's drain of ``n`` messages from its status lines:
    from its last partition assignment before the first message (start-up excluded, every fetch
    included) to the ``done`` line (the n-th forward acknowledged)."""
    first = next(e for e in events if e["event"] == "first")
    done = next(e for e in events if e["event"] == "done")
    start = max((e for e in events if e["event"] == "assigned" and e["t"] <= first["t"]),
                key=lambda e: e["t"], default=first)
    return {"us_per_msg": per_bet_us(done["cpu_s"] - start["cpu_s"], n),
            "msgs_per_s": n / max(done["t"] - first["t"], 1e-3), "startup_cpu_s": start["cpu_s"]}


async def faust_passthrough(run: BenchRun, n: int, k: int, out) -> dict:
    """A minimal Faust app (a process of its own, its own group and data dir) forwarding the
    first ``n`` messages of the bets topic unchanged to a topic of its own."""
    s = run.settings
    target = await _create_topic(run, s.topic(f"bench-faust-passthrough-{k}"))
    status = run.tmp / f"faust-passthrough-{k}.jsonl"
    name = f"faust-passthrough-{k}"
    log(out, f"e2e: Faust passthrough of {n} messages ({name})")
    proc = run.module(name, "jackpot.bench.faust_passthrough", "--source", run.topic(T.BETS), "--target", target,
                      "--count", str(n), "--status", str(status), "--app-id", f"{s.app_id}-{name}",
                      "--data-dir", str(run.tmp / name))
    deadline = time.monotonic() + _patience(n)
    try:
        while True:
            events = read_status(status.read_text()) if status.exists() else []
            if any(e["event"] == "done" for e in events):
                break
            if not proc.alive():
                raise RuntimeError(f"{name} exited:\n{proc.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not forward {n} messages")
            await asyncio.sleep(0.2)
    finally:
        proc.stop()
    forwarded = sum((await run.end_offsets(target)).values())
    if forwarded != n:  # the baseline must really have done its work
        raise RuntimeError(f"{name}: {forwarded} messages in {target}, expected {n}")
    return passthrough_window(events, n)


def sink_groups(run: BenchRun) -> dict[str, list[str]]:
    """The sinks' consumer groups (``jackpot sinks``) and the topics of this run each must have
    consumed once the worker's outputs are written."""
    app, pools = run.settings.app_id, run.topic(T.POOL_UPDATED)
    return {f"{app}-ledger-sink": [run.topic(T.LEDGER)], f"{app}-live-sink": [pools], f"{app}-event-sink": [pools]}


async def e2e_once(run: BenchRun, sizes: Sizes, brands, worker: Process, sinks: Process, broker: int | None,
                   seed: int, idle_cpu_per_s: float, out) -> dict:
    """One backlog of ``sizes.e2e_bets`` bets through a ready, idle worker: its throughput and
    the CPU the worker, the sinks and the broker spent on it (from before the first bet is sent
    to the poll that found the worker's, then the sinks', groups caught up)."""
    s, n = run.settings, sizes.e2e_bets
    bets_t, contrib_t, ledger_t = run.topic(T.BETS), run.topic(T.CONTRIBUTIONS), run.topic(T.LEDGER)
    c_start, l_start = await run.end_offsets(contrib_t), await run.end_offsets(ledger_t)
    records = encode_bets(BetStream(players=sizes.players, seed=seed, brands=brands), n, bets_t)
    log(out, f"e2e: {n} bets to the ready worker")
    meter = CpuMeter({"worker": worker.pid, "sinks": sinks.pid, "broker": broker})
    t0 = time.monotonic()
    at: dict[str, Any] = {}

    def worker_done() -> None:  # the last call: when the worker's group had consumed everything
        at.update(worker=meter.since("worker"), window=time.monotonic() - t0)

    def sinks_done() -> None:
        at.update(sinks=meter.since("sinks"), broker=meter.since("broker"))

    await send_all(s, records)
    await run.wait_consumed([bets_t, contrib_t], timeout=_patience(n), procs=[worker], on_caught_up=worker_done)
    await run.wait_groups(sink_groups(run), timeout=_patience(n), procs=[sinks], on_caught_up=sinks_done)
    worker_cpu, window, sinks_cpu, broker_cpu = at["worker"], at["window"], at["sinks"], at["broker"]
    contrib, requests = holding_items(CONTRIBUTIONS, await run.records(contrib_t, c_start))
    ledger = await run.records(ledger_t, l_start)
    first, last = min(m.timestamp for m in contrib), max(m.timestamp for m in ledger)
    seconds = max((last - first) / 1000, 1e-3)
    return {"bets_per_s": n / seconds, "seconds": seconds, "contributions": requests,
            "contribution_messages": len(contrib), "ledger_events": count_items(LEDGER, ledger),
            "ledger_messages": len(ledger), "contributions_per_s": requests / seconds,
            "worker_cpu_s": worker_cpu, "window_s": window, "worker_us_per_bet": per_bet_us(worker_cpu, n),
            "worker_us_per_bet_less_idle": per_bet_us(worker_cpu - idle_cpu_per_s * window, n),
            "sinks_us_per_bet": per_bet_us(sinks_cpu, n), "broker_us_per_bet": per_bet_us(broker_cpu, n)}


async def e2e_throughput(run: BenchRun, sizes: Sizes, brands, sinks: Process, out) -> tuple[list[Result], Process]:
    """``e2e_throughput`` and ``cpu_per_bet_vs_faust``; the worker is left running for the
    phases after."""
    n = sizes.e2e_bets
    worker = run.worker(0)
    log(out, "e2e: starting a worker; waiting until it is ready before producing")
    await _http_ready(f"http://127.0.0.1:{worker.env['JACKPOT_WORKER_WEB_PORT']}/ready", worker, timeout=300)
    await _http_ready(f"http://127.0.0.1:{sinks.env['JACKPOT_SINKS_WEB_PORT']}/ready", sinks, timeout=300)
    await asyncio.sleep(IDLE_S)  # the work a worker does just after it turns ready settles
    idle = CpuMeter({"worker": worker.pid})
    await asyncio.sleep(IDLE_S)
    idle_cpu_per_s = idle.since("worker") / IDLE_S
    broker = broker_pid(run.base)
    if broker is None:
        log(out, "e2e: no Kafka broker process found: its CPU is not measured")
    runs = []
    for k in range(sizes.repeats):
        runs.append(await e2e_once(run, sizes, brands, worker, sinks, broker, seed=1 if k == 0 else 1000 + k,
                                   idle_cpu_per_s=idle_cpu_per_s, out=out))
        log(out, f"e2e: {runs[-1]['bets_per_s']:,.0f} bets/s, worker {runs[-1]['worker_us_per_bet']:,.0f} us/bet")
    raw, fst = [], []
    for k in range(sizes.repeats):
        raw.append(await passthrough(run, n, k))
        fst.append(await faust_passthrough(run, n, k, out))
        log(out, f"e2e: aiokafka passthrough {raw[-1]:,.0f} msgs/s; Faust passthrough {fst[-1]['msgs_per_s']:,.0f} "
                 f"msgs/s, {fst[-1]['us_per_msg']:,.0f} us/msg")

    def med(key: str, rows=runs) -> float | None:
        return median([r[key] for r in rows])

    e2e = Result("e2e_throughput", med("bets_per_s"), "bets/s", median(raw), "aiokafka passthrough", detail={
        "bets": n, "contributions": runs[0]["contributions"], "contribution_messages": runs[0]["contribution_messages"],
        "ledger_events": runs[0]["ledger_events"], "ledger_messages": runs[0]["ledger_messages"],
        "contributions_per_s": _r(med("contributions_per_s")),
        "faust_passthrough_msgs_per_s": _r(median([f["msgs_per_s"] for f in fst])),
        "seconds": round(med("seconds"), 2), "jackpots": sizes.jackpots, "sinks": "own process",
        "runs": sizes.repeats, "target_ratio": 0.25})
    cpu = Result("cpu_per_bet_vs_faust", med("worker_us_per_bet"), "us/bet", median([f["us_per_msg"] for f in fst]),
                 "Faust passthrough", detail={
        "bets": n, "worker_cpu_s": round(med("worker_cpu_s"), 2), "window_s": round(med("window_s"), 2),
        "sinks_us_per_bet": _r(med("sinks_us_per_bet")), "broker_us_per_bet": _r(med("broker_us_per_bet")),
        "worker_idle_cpu_pct": round(idle_cpu_per_s * 100, 1),
        "worker_us_per_bet_less_idle": _r(med("worker_us_per_bet_less_idle")),
        "faust_startup_cpu_s": round(fst[0]["startup_cpu_s"], 2),
        "runs": sizes.repeats, "target_ratio_max": CPU_TARGET_RATIO_MAX,
        "method": "utime+stime of /proc/<pid>/stat per bet; worker: ready and idle to its group caught up; "
                  "sinks and broker: the same start to the sinks' groups caught up; "
                  "Faust: partition assignment to the last forward acknowledged"})
    if sizes.repeats > 1:
        e2e.detail["runs_bets_per_s"] = [round(r["bets_per_s"], 1) for r in runs]
        e2e.detail["runs_passthrough_msgs_per_s"] = [round(x, 1) for x in raw]
        cpu.detail["runs_us_per_bet"] = [_r(r["worker_us_per_bet"]) for r in runs]
        cpu.detail["runs_faust_us_per_msg"] = [_r(f["us_per_msg"]) for f in fst]
    return [e2e, cpu], worker


def holding_items(framing: Framing, records) -> tuple[list, int]:
    """The records that hold ``framing``'s items, and how many items they hold: the jackpots'
    input log also carries clock ticks (one per partition each second), commands and wallet
    results."""
    codec = catalog()
    counted = [(m, len(framing.items_in(codec, m.value))) for m in records]
    return [m for m, n in counted if n], sum(n for _, n in counted)


def count_items(framing: Framing, records) -> int:
    """Requests or ledger entries in a topic's records (they travel in batches)."""
    codec = catalog()
    return sum(len(framing.items_in(codec, m.value)) for m in records)


# ------------------------------------------------------------ 2. hot jackpot
def level_shares(hot: dict, game: str) -> list[tuple[str, Decimal]]:
    """Per level, the share of a bet that reaches the pool (rate x game coefficient x
    (1 - house cut) x split): what the row-lock design adds per bet."""
    coeff = next(Decimal(g["coefficient"]) for g in hot["games"] if g["game_id"] == game)
    net = Decimal(hot["contribution_rate"]) * coeff * (1 - Decimal(hot["house_cut"]))
    return [(lv["level_id"], net * Decimal(lv["contribution_split"])) for lv in hot["levels"]]


ROWLOCK_LEDGER = ("one row per bet, inserted in the same transaction before the pool updates: bet_id "
                  "(primary key), jackpot_id, bet amount numeric, per-level amounts numeric[]")


async def rowlock(run: BenchRun, hot: dict, bets: list[dict], connections: int) -> float:
    """One transaction per bet, from ``connections`` clients: update the jackpot's pool rows and
    insert the bet's ledger row (the classic design does both, or its ledger could lose a bet the
    pools counted)."""
    import asyncpg

    q = Decimal("0.000001")
    shares = level_shares(hot, bets[0]["game_id"])
    pool = await asyncpg.create_pool(run.settings.database_url, min_size=connections, max_size=connections)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE bench_rowlock_pools (jackpot_id text, level_id text, currency text, "
                "amount numeric(24, 6) NOT NULL DEFAULT 0, PRIMARY KEY (jackpot_id, level_id, currency))")
            await conn.execute(
                "CREATE TABLE bench_rowlock_ledger (bet_id uuid PRIMARY KEY, jackpot_id text NOT NULL, "
                "amount numeric(24, 6) NOT NULL, level_amounts numeric(24, 6)[] NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())")
            await conn.executemany("INSERT INTO bench_rowlock_pools (jackpot_id, level_id, currency) VALUES ($1, $2, 'EUR')",
                                   [(hot["jackpot_id"], lid) for lid, _ in shares])
        queue = list(reversed(bets))

        async def client() -> None:
            async with pool.acquire() as conn:
                while queue:
                    bet = queue.pop()
                    amounts = [(bet["bet_amount"] * share).quantize(q) for _, share in shares]
                    rows = [(amount, hot["jackpot_id"], lid) for amount, (lid, _) in zip(amounts, shares)]
                    async with conn.transaction():
                        # the ledger row first: the pool rows' locks are then held only from the
                        # updates to the commit (the order a careful row-lock design would use)
                        await conn.execute(
                            "INSERT INTO bench_rowlock_ledger (bet_id, jackpot_id, amount, level_amounts) "
                            "VALUES ($1, $2, $3, $4)",
                            uuid.UUID(str(bet["event_id"])), hot["jackpot_id"], bet["bet_amount"], amounts)
                        await conn.executemany(
                            "UPDATE bench_rowlock_pools SET amount = amount + $1 "
                            "WHERE jackpot_id = $2 AND level_id = $3 AND currency = 'EUR'", rows)

        t0 = time.monotonic()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.monotonic() - t0
        async with pool.acquire() as conn:
            total = await conn.fetchval("SELECT sum(amount) FROM bench_rowlock_pools")
            booked = await conn.fetchval(
                "SELECT coalesce(sum(a), 0) FROM bench_rowlock_ledger, unnest(level_amounts) AS a")
            ledger_rows = await conn.fetchval("SELECT count(*) FROM bench_rowlock_ledger")
        expected = sum((b["bet_amount"] * share).quantize(q) for b in bets for _, share in shares)
        if total != expected:  # the baseline must really have done its work
            raise RuntimeError(f"row-lock baseline lost updates: {total} != {expected}")
        if ledger_rows != len(bets) or booked != expected:
            raise RuntimeError(f"row-lock baseline ledger: {ledger_rows} rows booking {booked}, "
                               f"expected {len(bets)} booking {expected}")
        return len(bets) / elapsed
    finally:
        await pool.close()


async def hot_jackpot(run: BenchRun, sizes: Sizes, hot: dict, worker: Process, out) -> Result:
    key = hot["jackpot_id"].encode()
    c_start = await run.end_offsets(run.topic(T.CONTRIBUTIONS))
    l_start = await run.end_offsets(run.topic(T.LEDGER))
    log(out, f"hot jackpot: {sizes.hot_bets} bets on one jackpot")
    await send_all(run.settings, encode_bets(hot_stream(hot, sizes.players, seed=2), sizes.hot_bets, run.topic(T.BETS)))
    await run.wait_consumed([run.topic(T.BETS), run.topic(T.CONTRIBUTIONS)], timeout=_patience(sizes.hot_bets),
                            procs=[worker])
    contrib, requests = holding_items(CONTRIBUTIONS, await run.records(run.topic(T.CONTRIBUTIONS), c_start, key=key))
    ledger = await run.records(run.topic(T.LEDGER), l_start, key=key)
    if requests != sizes.hot_bets:
        raise RuntimeError(f"hot jackpot: {requests} contributions for {sizes.hot_bets} bets")
    first, last = min(m.timestamp for m in contrib), max(m.timestamp for m in ledger)
    value = requests / max((last - first) / 1000, 1e-3)
    log(out, f"hot jackpot: {value:,.0f} bets/s; row-lock baseline, {sizes.rowlock_bets} bets")
    stream = hot_stream(hot, sizes.players, seed=3)
    base = await rowlock(run, hot, [stream.next() for _ in range(sizes.rowlock_bets)], sizes.rowlock_connections)
    return Result("hot_jackpot_vs_rowlock", value, "bets/s", base, "PostgreSQL row-lock", detail={
        "bets": sizes.hot_bets, "levels": len(hot["levels"]), "rowlock_bets": sizes.rowlock_bets,
        "rowlock_connections": sizes.rowlock_connections, "rowlock_ledger": ROWLOCK_LEDGER, "target_ratio": 2.0})


# ---------------------------------------------------------------- 3. latency
async def _ws_frames(url: str, frames: list, ready: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            doc = json.loads(msg.data)
            if doc.get("type") == "snapshot":
                ready.set()
            elif doc.get("type") == "pool":
                p = doc["pool"]
                frames.append((now, p["jackpot_id"], p["level_id"], p["currency"], p["sequence"]))


def latency_samples(sent: dict[str, float], seen: list, ledger_topic: str, pool_topic: str,
                    frames: list) -> tuple[list[float], list[float]]:
    """Per (bet, jackpot): ms from the bet's send to the first PoolUpdated of that jackpot
    published with or after the bet's ledger event (the same batch), and to the first WebSocket
    frame carrying that PoolUpdated's sequence or a later one."""
    codec = catalog()
    pools: dict[bytes, list[tuple[int, float, str, str, int]]] = defaultdict(list)
    ledgers = []
    for recv, m in seen:
        if m.topic == pool_topic:
            _, ev = codec.decode(m.value, expect="PoolUpdated")
            pools[m.key].append((m.timestamp, recv, ev["level_id"], ev["currency"], ev["sequence"]))
        elif m.topic == ledger_topic:
            ledgers.append(m)
    for v in pools.values():
        v.sort(key=lambda x: (x[0], x[1]))
    ws: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
    for recv, jid, lid, ccy, seq in frames:
        ws[(jid, lid, ccy)].append((seq, recv))
    for v in ws.values():
        v.sort()
    pool_ms, ws_ms = [], []
    for m, ev in ((m, ev) for m in ledgers for ev in LEDGER.items_in(codec, m.value)):
        t_sent = sent.get(str(ev["bet_id"]))
        if t_sent is None or not any(lv["visible_amount"] > 0 for lv in ev["levels"]):
            continue  # not one of ours, or it moved no visible pool (no ticker change to see)
        updates = pools.get(m.key, [])
        i = bisect.bisect_left(updates, (m.timestamp,))
        if i == len(updates):
            continue
        ts, recv, lid, ccy, seq = updates[i]
        pool_ms.append((recv - t_sent) * 1000)
        wf = ws.get((ev["jackpot_id"], lid, ccy), [])
        j = bisect.bisect_left(wf, (seq,))
        if j < len(wf):
            ws_ms.append((wf[j][1] - t_sent) * 1000)
    return pool_ms, ws_ms


def _stamp_samples(sent: dict[str, float], seen: list, topic: str, framing: Framing) -> list[float]:
    """Per (bet, jackpot): ms from the bet's send to the record timestamp (when it was produced)
    of the ``topic`` record carrying it."""
    codec = catalog()
    out = []
    for _, m in seen:
        if m.topic != topic:
            continue
        for item in framing.items_in(codec, m.value):
            t_sent = sent.get(str(item["bet_id"]))
            if t_sent is not None:
                out.append(m.timestamp - t_sent * 1000)
    return out


def router_samples(sent: dict[str, float], seen: list, contributions_topic: str) -> list[float]:
    """To the bet's contribution request: the router's share (the ledger's less it is the jackpot agent's)."""
    return _stamp_samples(sent, seen, contributions_topic, CONTRIBUTIONS)


def ledger_samples(sent: dict[str, float], seen: list, ledger_topic: str) -> list[float]:
    """To the bet's ledger event: the worker's share of the latency."""
    return _stamp_samples(sent, seen, ledger_topic, LEDGER)


async def open_loop(run: BenchRun, records: list, rate: float, k: int | str) -> dict:
    """Send ``records`` at ``rate`` from a process of its own (``bench/openloop.py``); its report,
    with every bet's scheduled send time."""
    path, report = run.tmp / f"openloop-{k}.pkl", run.tmp / f"openloop-{k}.json"
    path.write_bytes(pickle.dumps(records))
    with open(run.tmp / f"openloop-{k}.log", "wb") as logf:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jackpot.bench.openloop", "--records", str(path), "--rate", repr(rate),
            "--out", str(report), env={**os.environ, **run.settings.to_env()}, stdin=asyncio.subprocess.DEVNULL,
            stdout=logf, stderr=asyncio.subprocess.STDOUT)
        try:
            rc = await asyncio.wait_for(proc.wait(), timeout=120 + 2 * len(records) / rate)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise TimeoutError(f"open-loop sender at {rate:.0f}/s did not finish") from None
    if rc != 0:
        raise RuntimeError(f"open-loop sender exited {rc}: "
                           f"{(run.tmp / f'openloop-{k}.log').read_text(errors='replace')[-2000:]}")
    return json.loads(report.read_text())


HOP_PROBE_RATE = 50.0  # messages/s of the broker-hop probe sent beside each offered rate


def hop_records(topic: str, n: int, k: int) -> list[tuple[str, bytes, bytes, str]]:
    """The broker-hop probe's messages, as ``open_loop`` sends them: small, keyed, each named."""
    return [(topic, f"{k}:{i}".encode(), b"x" * 64, f"hop-{k}:{i}") for i in range(n)]


def hop_samples(sent: dict[str, float], seen: list, topic: str) -> list[float]:
    """Per probe message: ms from its scheduled send to its receipt by the bench's watcher, the
    same path as a PoolUpdated's last hop (one produce, one fetch through the same broker)."""
    return [(recv - sent[f"hop-{m.key.decode()}"]) * 1000 for recv, m in seen
            if m.topic == topic and f"hop-{m.key.decode()}" in sent]


def rate_point(share: float, capacity: float, sender: dict, pool_ms: list[float], ws_ms: list[float],
               ledger_ms: list[float] = (), router_ms: list[float] = (), hop_ms: list[float] = ()) -> dict:
    """One offered rate's figures, as ``latency_capacity_share`` lists them."""
    def q(ms: list[float], p: float) -> float | None:
        return round(pct(ms, p), 2) if ms else None

    return {"share": share, "offered_bets_s": round(share * capacity, 1),
            "achieved_bets_s": round(sender["achieved_rate"], 1), "samples": len(pool_ms), "ws_samples": len(ws_ms),
            "pool_p50_ms": q(pool_ms, 0.5), "pool_p99_ms": q(pool_ms, 0.99), "pool_max_ms": q(pool_ms, 1.0),
            "ws_p50_ms": q(ws_ms, 0.5), "ws_p99_ms": q(ws_ms, 0.99), "ws_max_ms": q(ws_ms, 1.0),
            "ledger_p50_ms": q(list(ledger_ms), 0.5), "ledger_p99_ms": q(list(ledger_ms), 0.99),
            "router_p50_ms": q(list(router_ms), 0.5), "router_p99_ms": q(list(router_ms), 0.99),
            "hop_p50_ms": q(list(hop_ms), 0.5), "hop_p99_ms": q(list(hop_ms), 0.99),
            "send_late_p99_ms": sender["late_p99_ms"]}


async def latency(run: BenchRun, sizes: Sizes, brands, worker: Process, gateway: Process | None,
                  capacity: float, out) -> list[Result]:
    """Open-loop latency at each of ``LATENCY_SHARES`` of ``capacity`` (bets/s).

    Beside each rate, a second open-loop sender puts ``HOP_PROBE_RATE`` small messages a second
    on a probe topic that nothing but the bench reads: their latency is one bare broker hop under
    the same load, the floor any path through this broker sits on (a bet takes three: bets to
    the router, contributions to the jackpot agent, PoolUpdated to the gateway)."""
    s = run.settings
    pool_topic, ledger_topic = run.topic(T.POOL_UPDATED), run.topic(T.LEDGER)
    contributions_topic = run.topic(T.CONTRIBUTIONS)
    if not capacity > 0:
        raise RuntimeError("latency: no capacity measured to offer a share of")
    hop_topic = await _create_topic(run, s.topic("bench-hop-probe"))
    watcher = TopicWatcher(s, [pool_topic, ledger_topic, contributions_topic, hop_topic])
    await watcher.start()
    frames: list = []
    ws_task = None
    points: list[dict] = []
    samples: dict[float, tuple[list[float], list[float]]] = {}
    try:
        if gateway is not None:
            snap = asyncio.Event()
            ws_task = asyncio.create_task(_ws_frames(f"ws://127.0.0.1:{s.gateway_port}/ws", frames, snap))
            await asyncio.wait_for(snap.wait(), 30)
        for k, share in enumerate(LATENCY_SHARES):
            rate = share * capacity
            n = max(1, round(rate * sizes.latency_s))
            records = encode_bets(BetStream(players=sizes.players, seed=4 + 100 * k, brands=brands), n,
                                  run.topic(T.BETS))
            seen_from, frames_from = len(watcher.seen), len(frames)
            log(out, f"latency: {n} bets at {rate:,.0f}/s ({share:.0%} of {capacity:,.0f}), open loop")
            probes = hop_records(hop_topic, max(1, round(HOP_PROBE_RATE * sizes.latency_s)), k)
            sender, probe = await asyncio.gather(open_loop(run, records, rate, k),
                                                 open_loop(run, probes, HOP_PROBE_RATE, f"hop-{k}"))
            await run.wait_consumed([run.topic(T.BETS), run.topic(T.CONTRIBUTIONS)], timeout=_patience(n),
                                    procs=[worker])
            await asyncio.sleep(1.0)  # the last PoolUpdated and frames in flight
            pool_ms, ws_ms = latency_samples(sender["scheduled"], watcher.seen[seen_from:], ledger_topic, pool_topic,
                                             frames[frames_from:])
            if not pool_ms:
                raise RuntimeError(f"latency: no bet at {rate:.0f}/s could be matched to a PoolUpdated")
            samples[share] = (pool_ms, ws_ms)
            ledger_ms = ledger_samples(sender["scheduled"], watcher.seen[seen_from:], ledger_topic)
            router_ms = router_samples(sender["scheduled"], watcher.seen[seen_from:], contributions_topic)
            hop_ms = hop_samples(probe["scheduled"], watcher.seen[seen_from:], hop_topic)
            points.append(rate_point(share, capacity, sender, pool_ms, ws_ms, ledger_ms, router_ms, hop_ms))
            log(out, f"latency: p99 {points[-1]['pool_p99_ms']} ms to PoolUpdated, {points[-1]['ws_p99_ms']} ms to "
                     f"the WebSocket frame; a bare broker hop beside it p99 {points[-1]['hop_p99_ms']} ms")
    finally:
        await watcher.stop()
        if ws_task is not None:
            ws_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ws_task
    results = [Result("latency_capacity_share", capacity_share(points), "share", detail={
        "capacity_bets_s": round(capacity, 1), "target_p99_ms": LATENCY_TARGET_MS, "to": "WebSocket frame",
        "seconds_per_rate": sizes.latency_s, "rates": points, "hop_probe_msgs_s": HOP_PROBE_RATE,
        "method": "open loop: a sender process of its own, latency from each bet's scheduled send time; "
                  "hop: a bare produce-to-fetch through the same broker at the same time"})]
    mid = 0.5 if 0.5 in samples else LATENCY_SHARES[len(LATENCY_SHARES) // 2]
    point = next(p for p in points if p["share"] == mid)
    pool_ms, ws_ms = samples[mid]

    def result(name: str, ms: list[float], to: str) -> Result:
        # baseline: a bare broker hop's p99 at the same time (the ratio: how many hops' worth)
        return Result(name, pct(ms, 0.99), "ms", baseline=point["hop_p99_ms"], baseline_label="bare broker hop p99",
                      detail={
            "to": to, "p50_ms": round(pct(ms, 0.5), 2), "max_ms": round(max(ms), 2), "samples": len(ms),
            "rate": round(point["offered_bets_s"]), "share": mid, "open_loop": True,
            "target_p99_ms": LATENCY_TARGET_MS})

    results.append(result("latency_pool_p99_ms", pool_ms, "PoolUpdated consumed"))
    if gateway is not None and ws_ms:
        results.append(result("latency_ws_p99_ms", ws_ms, "WebSocket frame received (smoothing off)"))
    return results


# -------------------------------------------------------------------- 4. rss
async def worker_rss(run: BenchRun, sizes: Sizes, brands, worker: Process, seen_bets: int, out) -> Result:
    more = max(0, sizes.rss_bets - seen_bets)
    if more:
        log(out, f"rss: {more:,} more bets ({sizes.players:,} players, {sizes.jackpots} jackpots)")
        stream = BetStream(players=sizes.players, seed=5, brands=brands)
        await run_loadgen(run.settings, rate=0, count=more, players=sizes.players, seed=5, progress=out,
                          sessions=False, stream=stream)
        await run.wait_consumed([run.topic(T.BETS), run.topic(T.CONTRIBUTIONS)], timeout=_patience(more),
                                procs=[worker])
    rss = worker.rss_bytes() / (1 << 20)
    return Result("worker_rss_mb", rss, "MB", detail={"bets": seen_bets + more, "jackpots": sizes.jackpots,
                                                      "players": sizes.players})


# --------------------------------------------------------------- 5. recovery
async def _group_members(run: BenchRun) -> int:
    admin = AIOKafkaAdminClient(**client_options(run.settings))
    await admin.start()
    try:
        [resp] = await admin.describe_consumer_groups([run.settings.app_id])
        group = resp.groups[0]
        state, members = group[2], group[5]
        return len(members) if state == "Stable" else 0
    finally:
        await admin.close()


async def _assignments(run: BenchRun) -> tuple[str, dict[str, frozenset[int]]]:
    """The group's state and, per member id, the partitions of the contributions topic it holds
    (the jackpot table's partitions follow them)."""
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    topic = run.topic(T.CONTRIBUTIONS)
    admin = AIOKafkaAdminClient(**client_options(run.settings))
    await admin.start()
    try:
        [resp] = await admin.describe_consumer_groups([run.settings.app_id])
    finally:
        await admin.close()
    group = resp.groups[0]
    held = {}
    for member in group[5]:
        parts: frozenset[int] = frozenset()
        raw = member[-1]
        if raw:
            decoded = ConsumerProtocolMemberAssignment.decode(raw)
            parts = frozenset(p for t, ps in decoded.assignment if t == topic for p in ps)
        held[member[0]] = parts
    return group[2], held


class RecoveryClock:
    """What a fail-over spends its time on, polled every 100 ms from the kill: detection (the group
    notices the member is gone: it leaves Stable), rebalance (Stable again, with the survivor
    alone), restore (the survivor ready again: its tables recovered); first output is measured by
    the caller.  Also which partitions moved to the survivor."""

    def __init__(self, run: BenchRun, survivor: Process) -> None:
        self.run, self.survivor = run, survivor
        self.before: dict[str, frozenset[int]] = {}
        self.detected = self.rebalanced = self.restored = None
        self.moved: frozenset[int] = frozenset()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        _, self.before = await _assignments(self.run)
        self.t_kill = time.time()
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while self.restored is None:
            with contextlib.suppress(Exception):
                state, held = await _assignments(self.run)
                now = time.time()
                if self.detected is None and (state != "Stable" or len(held) != len(self.before)):
                    self.detected = now
                if self.detected is not None and self.rebalanced is None and state == "Stable" and len(held) == 1:
                    self.rebalanced = now
                    [(member, parts)] = held.items()
                    self.moved = parts - self.before.get(member, frozenset())
                if self.rebalanced is not None and await _ready(self.survivor):
                    self.restored = time.time()
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def split(self) -> dict[str, float | None]:
        def since(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(b - a, 2)

        return {"detection_s": since(self.t_kill, self.detected), "rebalance_s": since(self.detected, self.rebalanced),
                "restore_s": since(self.rebalanced, self.restored)}


async def _restored_volume(run: BenchRun, partitions: frozenset[int]) -> tuple[int, int]:
    """Records and bytes (keys and values) in the changelogs' ``partitions``: what the survivor
    read to rebuild the tables of the partitions it took over (it had no local copy of them)."""
    if not partitions:
        return 0, 0
    admin = AIOKafkaAdminClient(**client_options(run.settings))
    await admin.start()
    try:
        names = [t for t in await admin.list_topics()
                 if t.startswith(f"{run.settings.app_id}-") and t.endswith("-changelog")]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**client_options(run.settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    records = size = 0
    try:
        tps = [TopicPartition(t, p) for t in names for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        while pending:
            for tp, msgs in (await consumer.getmany(*pending, timeout_ms=1000)).items():
                records += len(msgs)
                size += sum(len(m.key or b"") + len(m.value or b"") for m in msgs)
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return records, size


async def recovery(run: BenchRun, sizes: Sizes, brands, survivor_env: dict, victim: Process, out) -> Result:
    s = run.settings
    survivor = run.worker(1, **survivor_env)
    watcher = TopicWatcher(s, [run.topic(T.POOL_UPDATED)])
    await watcher.start()
    stop = asyncio.Event()

    async def trickle() -> None:
        stream = BetStream(players=sizes.players, seed=6, brands=brands)
        codec = catalog()
        async with producer(s, linger_ms=5) as prod:
            t0, i = time.monotonic(), 0
            while not stop.is_set():
                bet = stream.next()
                await prod.send(run.topic(T.BETS), key=bet["player_id"].encode(), value=codec.encode("BetPlaced", bet))
                i += 1
                ahead = t0 + i / sizes.recovery_rate - time.monotonic()
                if ahead > 0.001:
                    await asyncio.sleep(ahead)

    producer_task = asyncio.create_task(trickle())
    try:
        log(out, "recovery: second worker joining; waiting for a stable group of two")
        deadline = time.monotonic() + 240
        stable_since = None  # the group of two, stable, both ready; what each worker owns shows in a window
        while True:
            for p in (victim, survivor):
                if not p.alive():
                    raise RuntimeError(f"{p.name} exited:\n{p.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError("the second worker did not join a stable group")
            if await _group_members(run) != 2 or not all([await _ready(p) for p in (victim, survivor)]):
                stable_since = None
            elif stable_since is None:
                stable_since = time.time()
            elif time.time() - stable_since >= WATCH_S:
                break
            await asyncio.sleep(1.0)
        # every jackpot the trickle reaches updates within the window (each gets a bet or more a second)
        active = _updated_since(watcher, time.time() - WATCH_S / 2)
        clock = RecoveryClock(run, survivor)
        await clock.start()
        t_kill = clock.t_kill
        victim.kill()
        log(out, f"recovery: SIGKILLed {victim.name}; waiting for {len(active)} jackpots to update again")
        first_after: dict[bytes, float] = {}
        deadline = time.monotonic() + 300
        while not active <= set(first_after):
            if time.monotonic() > deadline:
                missing = sorted(k.decode() for k in active - set(first_after))
                raise TimeoutError(f"{len(missing)} jackpots never updated after the kill: {', '.join(missing)}")
            if not survivor.alive():
                raise RuntimeError(f"{survivor.name} exited:\n{survivor.log_tail()}")
            for recv, m in watcher.seen:
                if recv > t_kill and m.key not in first_after:
                    first_after[m.key] = recv
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 60
        while clock.restored is None and time.monotonic() < deadline:  # the split needs its last mark
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await producer_task
        await watcher.stop()
        await clock.stop()
    gaps = sorted(first_after[k] - t_kill for k in active)
    restored = clock.restored or t_kill
    records, size = await _restored_volume(run, clock.moved)
    split = clock.split()
    log(out, f"recovery: detection {split['detection_s']} s, rebalance {split['rebalance_s']} s, restore "
             f"{split['restore_s']} s ({records:,} changelog records, {size / (1 << 20):.1f} MiB of "
             f"{len(clock.moved)} partitions), last first output {gaps[-1]:.2f} s")
    return Result("recovery_s", gaps[-1], "s", detail={
        "jackpots": len(active), "median_gap_s": round(statistics.median(gaps), 2), **split,
        "first_output_after_restore_s": round(max(0.0, t_kill + gaps[-1] - restored), 2),
        "restored_records": records, "restored_bytes": size, "partitions_moved": len(clock.moved),
        "standby_replicas": s.standby_replicas, "target_s": 10})


WATCH_S = 10.0  # how long the group of two runs before the kill


async def _ready(worker: Process) -> bool:
    """The worker's /ready: its tables recovered, outside a rebalance."""
    url = f"http://127.0.0.1:{worker.env['JACKPOT_WORKER_WEB_PORT']}/ready"
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
        async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return resp.status == 200
    return False


def _updated_since(watcher: TopicWatcher, since: float) -> set[bytes]:
    return {m.key for recv, m in watcher.seen if recv >= since}


# ------------------------------------------------------------------- 6. sink
async def sink_vs_copy(run: BenchRun, out, limit: int) -> Result:
    """The ledger events this run produced, written by the ledger sink's writer (in the sink's
    batch size) and by one plain COPY, each into a fresh database."""
    import asyncpg

    from jackpot.sinks.ledger import CONTRIBUTION_COLUMNS, LEVEL_COLUMNS, LedgerWriter, rows_from_events
    from jackpot.sinks.migrate import migrate

    codec = catalog()
    events = [e for m in await run.records(run.topic(T.LEDGER)) for e in LEDGER.items_in(codec, m.value)][:limit]
    contributions, levels = rows_from_events(events[1:])  # the first event warms the writer up
    rows = len(contributions) + len(levels)
    log(out, f"sink: {len(events)} ledger events ({rows} rows) through the sink writer, then COPY")
    sink_db = await run.create_database(f"{run.db_name}_sink")
    await migrate(sink_db)
    writer = LedgerWriter(sink_db)
    await writer.start()
    batch = 2000  # the ledger sink's max_records
    try:
        await writer.write(events[:1])  # partitions and staging tables exist before timing
        t0 = time.monotonic()
        for i in range(1, len(events), batch):
            await writer.write(events[i:i + batch])
        sink_s = time.monotonic() - t0
    finally:
        await writer.close()
    copy_db = await run.create_database(f"{run.db_name}_copy")
    await migrate(copy_db)
    conn = await asyncpg.connect(copy_db)
    try:
        await conn.execute("CREATE TABLE copy_contributions (LIKE contributions INCLUDING DEFAULTS)")
        await conn.execute("CREATE TABLE copy_contribution_levels (LIKE contribution_levels INCLUDING DEFAULTS)")
        t0 = time.monotonic()
        async with conn.transaction():
            await conn.copy_records_to_table("copy_contributions", records=contributions,
                                             columns=CONTRIBUTION_COLUMNS)
            await conn.copy_records_to_table("copy_contribution_levels", records=levels, columns=LEVEL_COLUMNS)
        copy_s = time.monotonic() - t0
        copied = await conn.fetchval("SELECT count(*) FROM copy_contributions")
    finally:
        await conn.close()
    if copied != len(contributions):
        raise RuntimeError("COPY baseline did not copy every row")
    return Result("sink_vs_copy", rows / sink_s, "rows/s", rows / copy_s, "plain COPY", detail={
        "events": len(events), "rows": rows, "sink_batch": batch})


# -------------------------------------------------------------------- driver
async def run_benchmarks(quick: bool, only: tuple[str, ...] = (), out: TextIO | None = sys.stderr,
                         base: Settings | None = None, keep: bool = False) -> list[Result]:
    sizes = Sizes.quick() if quick else Sizes.full()
    wanted = set(only or NAMES)
    unknown = wanted - set(NAMES)
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}; known: {', '.join(NAMES)}")
    results: list[Result] = []
    failed: dict[str, str] = {}

    async def phase(names: set[str], run_phase) -> None:
        """Run one phase; a phase that fails is reported and the next ones still run (they may
        fail for the same reason), so a late failure keeps the figures measured before it."""
        try:
            results.extend(r for r in await run_phase() if r.bench in wanted)
        except (RuntimeError, TimeoutError) as exc:
            for name in sorted(names & wanted):
                failed[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log(out, f"{', '.join(sorted(names & wanted))} failed: {exc}")

    async with BenchRun(base, out=out, keep=keep) as run:
        docs, brands, hot = bench_portfolio(sizes.jackpots)
        await run.publish(docs)
        sinks = run.sinks()
        gateway = None
        if wanted & LATENCY_NAMES:
            gateway = run.spawn("gateway", "gateway", JACKPOT_GATEWAY_SMOOTHING="0", JACKPOT_GATEWAY_FANOUT_MS="10")
        # every later phase needs its worker, and the latency phase its capacity
        first, worker = await e2e_throughput(run, sizes, brands, sinks, out)
        capacity = first[0].value
        seen = sizes.e2e_bets * sizes.repeats
        results.extend(r for r in first if r.bench in wanted)
        if "hot_jackpot_vs_rowlock" in wanted:
            await phase({"hot_jackpot_vs_rowlock"}, lambda: _one(hot_jackpot(run, sizes, hot, worker, out)))
            seen += sizes.hot_bets
        if wanted & LATENCY_NAMES:
            async def latency_phase() -> list[Result]:
                if gateway is not None:
                    await _http_ready(f"http://127.0.0.1:{run.settings.gateway_port}/ready", gateway)
                return await latency(run, sizes, brands, worker, gateway, capacity, out)

            await phase(LATENCY_NAMES, latency_phase)
            seen += sum(max(1, round(share * capacity * sizes.latency_s)) for share in LATENCY_SHARES)
        if "worker_rss_mb" in wanted:
            await phase({"worker_rss_mb"}, lambda: _one(worker_rss(run, sizes, brands, worker, seen, out)))
        if "sink_vs_copy" in wanted:
            await phase({"sink_vs_copy"}, lambda: _one(sink_vs_copy(run, out, limit=200_000)))
        if "campaign_latency_p99_ms" in wanted:  # before the recovery run, which kills this worker
            from .campaign_latency import campaign_latency

            await phase({"campaign_latency_p99_ms"}, lambda: _one(
                campaign_latency(run, sizes.campaign_jackpots, sizes.campaign_players, out)))
        if "recovery_s" in wanted:
            await phase({"recovery_s"}, lambda: _one(recovery(run, sizes, brands, {}, worker, out)))
        if failed:
            run.failed = True  # keep the process logs
    order = {n: i for i, n in enumerate(NAMES)}
    results.sort(key=lambda r: order[r.bench])
    if failed:
        raise BenchFailed(results, failed)
    return results


class BenchFailed(RuntimeError):
    """Some benchmarks failed; ``results`` holds those that did not."""

    def __init__(self, results: list[Result], failed: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {why}" for name, why in failed.items()))
        self.results, self.failed = results, failed


async def _one(coro) -> list[Result]:
    return [await coro]


async def _http_ready(url: str, proc: Process, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


def _note(v: Any) -> str:
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def table(results: list[Result]) -> str:
    rows = [("benchmark", "value", "unit", "baseline", "ratio", "notes")]
    for r in results:
        note = ", ".join(f"{k}={_note(v)}" for k, v in r.detail.items())
        rows.append((r.bench, f"{r.value:,.2f}", r.unit,
                     "-" if r.baseline is None else f"{r.baseline:,.2f} ({r.baseline_label})",
                     "-" if r.ratio is None else f"{r.ratio:.3f}", note))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5])
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  -----")
    return "\n".join(lines)
