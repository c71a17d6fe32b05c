"""The engine's benchmarks, each against a baseline measured in the same run on the same stack.

One run, in order (each phase reuses what the one before left running; the sinks run in a
process of their own throughout, as ops/k8s deploys them, so the worker measured is router and
jackpot agent):

1. ``e2e_throughput``: bets/s through router + jackpot agent (full pipeline, one worker) over a
   backlog, from the first contribution request to the last ledger event (record timestamps),
   versus a raw aiokafka consume-produce passthrough of the same bet messages.
2. ``hot_jackpot_vs_rowlock``: bets/s of one hot jackpot (every bet on one partition) versus
   the classic design: a PostgreSQL transaction per bet updating the pool rows
   (``UPDATE ... SET amount = amount + x``) from several connections.
3. ``latency_pool_p99_ms`` / ``latency_ws_p99_ms``: at a fixed rate (1,000 bets/s), bet produced
   to the PoolUpdated that includes it consumed, and to the WebSocket frame carrying it
   (gateway smoothing off).
4. ``worker_rss_mb``: the worker's resident memory after N bets across 20 jackpots
   (full: 1,000,000 bets and 100,000 players).
5. ``recovery_s``: SIGKILL of one of two workers to the first PoolUpdated of every jackpot
   it owned, from the survivor.
6. ``sink_vs_copy``: ledger rows/s through the ledger sink's writer versus plain ``COPY`` of the
   same rows, each into a fresh database.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

import aiohttp
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jackpot.settings import Settings
from jackpot.streams import topics as T
from jackpot.streams.batches import CONTRIBUTIONS, LEDGER, Framing
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import assign_all, client_options, producer
from jackpot.streams.loadgen import BetStream, run_loadgen

from .harness import (BenchRun, Process, Result, TopicWatcher, bench_portfolio, encode_bets, hot_stream, log,
                      send_all)

NAMES = ("e2e_throughput", "hot_jackpot_vs_rowlock", "latency_pool_p99_ms", "latency_ws_p99_ms",
         "recovery_s", "sink_vs_copy", "worker_rss_mb")


@dataclass(frozen=True)
class Sizes:
    e2e_bets: int
    hot_bets: int
    rowlock_bets: int
    rowlock_connections: int
    latency_rate: float
    latency_s: float
    rss_bets: int  # total bets the worker has seen when its memory is read
    players: int
    jackpots: int = 20
    recovery_rate: float = 60.0  # bets/s during the recovery run: under one worker's capacity

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(e2e_bets=4000, hot_bets=3000, rowlock_bets=2000, rowlock_connections=8,
                   latency_rate=1000, latency_s=3, rss_bets=0, players=20_000)

    @classmethod
    def full(cls) -> "Sizes":
        return cls(e2e_bets=50_000, hot_bets=30_000, rowlock_bets=20_000, rowlock_connections=8,
                   latency_rate=1000, latency_s=30, rss_bets=1_000_000, players=100_000)


def _patience(bets: int) -> float:
    """How long to wait for a worker to work through ``bets``: generous (a slow, shared machine
    runs at tens of bets per second), so a timeout means stuck, not slow."""
    return 600 + bets * 0.1


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


# ------------------------------------------------------------------ 1. e2e
async def passthrough(run: BenchRun, n: int) -> float:
    """The ceiling: consume the bets topic and produce every message unchanged, no processing."""
    s = run.settings
    target = s.topic("bench-passthrough")
    admin = AIOKafkaAdminClient(**client_options(s))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(target, num_partitions=s.partitions, replication_factor=1)])
    finally:
        await admin.close()
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


async def e2e_throughput(run: BenchRun, sizes: Sizes, brands, out) -> tuple[Result, Process]:
    s = run.settings
    stream = BetStream(players=sizes.players, seed=1, brands=brands)
    log(out, f"e2e: encoding {sizes.e2e_bets} bets, producing them before the worker starts")
    await send_all(s, encode_bets(stream, sizes.e2e_bets, run.topic(T.BETS)))
    worker = run.worker(0)
    await run.wait_consumed([run.topic(T.BETS), run.topic(T.CONTRIBUTIONS)], timeout=_patience(sizes.e2e_bets),
                            procs=[worker])
    contrib = await run.records(run.topic(T.CONTRIBUTIONS))
    ledger = await run.records(run.topic(T.LEDGER))
    first, last = min(m.timestamp for m in contrib), max(m.timestamp for m in ledger)
    seconds = max((last - first) / 1000, 1e-3)
    value = sizes.e2e_bets / seconds
    requests, entries = count_items(CONTRIBUTIONS, contrib), count_items(LEDGER, ledger)
    log(out, f"e2e: {value:,.0f} bets/s; passthrough of the same messages")
    base = await passthrough(run, sizes.e2e_bets)
    return Result("e2e_throughput", value, "bets/s", base, "aiokafka passthrough", detail={
        "bets": sizes.e2e_bets, "contributions": requests, "contribution_messages": len(contrib),
        "ledger_events": entries, "ledger_messages": len(ledger), "contributions_per_s": round(requests / seconds, 1),
        "jackpots": sizes.jackpots, "sinks": "own process", "target_ratio": 0.25}), worker


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


async def rowlock(run: BenchRun, hot: dict, bets: list[dict], connections: int) -> float:
    """One transaction per bet updating the jackpot's pool rows, from ``connections`` clients."""
    import asyncpg

    q = Decimal("0.000001")
    shares = level_shares(hot, bets[0]["game_id"])
    pool = await asyncpg.create_pool(run.settings.database_url, min_size=connections, max_size=connections)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE bench_rowlock_pools (jackpot_id text, level_id text, currency text, "
                "amount numeric(24, 6) NOT NULL DEFAULT 0, PRIMARY KEY (jackpot_id, level_id, currency))")
            await conn.executemany("INSERT INTO bench_rowlock_pools (jackpot_id, level_id, currency) VALUES ($1, $2, 'EUR')",
                                   [(hot["jackpot_id"], lid) for lid, _ in shares])
        queue = list(reversed(bets))

        async def client() -> None:
            async with pool.acquire() as conn:
                while queue:
                    bet = queue.pop()
                    rows = [((bet["bet_amount"] * share).quantize(q), hot["jackpot_id"], lid) for lid, share in shares]
                    async with conn.transaction():
                        await conn.executemany(
                            "UPDATE bench_rowlock_pools SET amount = amount + $1 "
                            "WHERE jackpot_id = $2 AND level_id = $3 AND currency = 'EUR'", rows)

        t0 = time.monotonic()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.monotonic() - t0
        async with pool.acquire() as conn:
            total = await conn.fetchval("SELECT sum(amount) FROM bench_rowlock_pools")
        expected = sum((b["bet_amount"] * share).quantize(q) for b in bets for _, share in shares)
        if total != expected:  # the baseline must really have done its work
            raise RuntimeError(f"row-lock baseline lost updates: {total} != {expected}")
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
    contrib = await run.records(run.topic(T.CONTRIBUTIONS), c_start, key=key)
    ledger = await run.records(run.topic(T.LEDGER), l_start, key=key)
    requests = count_items(CONTRIBUTIONS, contrib)
    if requests != sizes.hot_bets:
        raise RuntimeError(f"hot jackpot: {requests} contributions for {sizes.hot_bets} bets")
    first, last = min(m.timestamp for m in contrib), max(m.timestamp for m in ledger)
    value = requests / max((last - first) / 1000, 1e-3)
    log(out, f"hot jackpot: {value:,.0f} bets/s; row-lock baseline, {sizes.rowlock_bets} bets")
    stream = hot_stream(hot, sizes.players, seed=3)
    base = await rowlock(run, hot, [stream.next() for _ in range(sizes.rowlock_bets)], sizes.rowlock_connections)
    return Result("hot_jackpot_vs_rowlock", value, "bets/s", base, "PostgreSQL row-lock", detail={
        "bets": sizes.hot_bets, "levels": len(hot["levels"]), "rowlock_bets": sizes.rowlock_bets,
        "rowlock_connections": sizes.rowlock_connections, "target_ratio": 2.0})


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


async def latency(run: BenchRun, sizes: Sizes, brands, worker: Process, gateway: Process | None,
                  out) -> list[Result]:
    s = run.settings
    pool_topic, ledger_topic = run.topic(T.POOL_UPDATED), run.topic(T.LEDGER)
    n = int(sizes.latency_rate * sizes.latency_s)
    records = encode_bets(BetStream(players=sizes.players, seed=4, brands=brands), n, run.topic(T.BETS))
    watcher = TopicWatcher(s, [pool_topic, ledger_topic])
    await watcher.start()
    frames: list = []
    ws_task = None
    if gateway is not None:
        snap = asyncio.Event()
        ws_task = asyncio.create_task(_ws_frames(f"ws://127.0.0.1:{s.gateway_port}/ws", frames, snap))
        await asyncio.wait_for(snap.wait(), 30)
    sent: dict[str, float] = {}
    log(out, f"latency: {n} bets at {sizes.latency_rate:,.0f}/s")
    try:
        async with producer(s, linger_ms=0) as prod:
            pending = []
            t0 = time.monotonic()
            for i, (topic, key, value, bet_id) in enumerate(records):
                ahead = t0 + i / sizes.latency_rate - time.monotonic()
                if ahead > 0.001:
                    await asyncio.sleep(ahead)
                sent[bet_id] = time.time()
                pending.append(await prod.send(topic, key=key, value=value))
            await asyncio.gather(*pending)
            achieved = n / (time.monotonic() - t0)
        await run.wait_consumed([run.topic(T.BETS), run.topic(T.CONTRIBUTIONS)], timeout=_patience(n),
                                procs=[worker])
        await asyncio.sleep(1.0)  # the last PoolUpdated and frames in flight
    finally:
        await watcher.stop()
        if ws_task is not None:
            ws_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ws_task
    pool_ms, ws_ms = latency_samples(sent, watcher.seen, ledger_topic, pool_topic, frames)
    if not pool_ms:
        raise RuntimeError("latency: no bet could be matched to a PoolUpdated")

    def result(name: str, ms: list[float], to: str) -> Result:
        return Result(name, pct(ms, 0.99), "ms", detail={
            "to": to, "p50_ms": round(pct(ms, 0.5), 2), "max_ms": round(max(ms), 2), "samples": len(ms),
            "rate": round(achieved), "target_p99_ms": 50})

    out_results = [result("latency_pool_p99_ms", pool_ms, "PoolUpdated consumed")]
    if gateway is not None and ws_ms:
        out_results.append(result("latency_ws_p99_ms", ws_ms, "WebSocket frame received (smoothing off)"))
    return out_results


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
        t_kill = time.time()
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
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await producer_task
        await watcher.stop()
    gaps = sorted(first_after[k] - t_kill for k in active)
    return Result("recovery_s", gaps[-1], "s", detail={
        "jackpots": len(active), "median_gap_s": round(statistics.median(gaps), 2),
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
        run.sinks()
        gateway = None
        if "latency_ws_p99_ms" in wanted:
            gateway = run.spawn("gateway", "gateway", JACKPOT_GATEWAY_SMOOTHING="0", JACKPOT_GATEWAY_FANOUT_MS="10")
        r, worker = await e2e_throughput(run, sizes, brands, out)  # every later phase needs its worker
        seen = sizes.e2e_bets
        if "e2e_throughput" in wanted:
            results.append(r)
        if "hot_jackpot_vs_rowlock" in wanted:
            await phase({"hot_jackpot_vs_rowlock"}, lambda: _one(hot_jackpot(run, sizes, hot, worker, out)))
            seen += sizes.hot_bets
        if wanted & {"latency_pool_p99_ms", "latency_ws_p99_ms"}:
            async def latency_phase() -> list[Result]:
                if gateway is not None:
                    await _http_ready(f"http://127.0.0.1:{run.settings.gateway_port}/ready", gateway)
                return await latency(run, sizes, brands, worker, gateway, out)

            await phase({"latency_pool_p99_ms", "latency_ws_p99_ms"}, latency_phase)
            seen += int(sizes.latency_rate * sizes.latency_s)
        if "worker_rss_mb" in wanted:
            await phase({"worker_rss_mb"}, lambda: _one(worker_rss(run, sizes, brands, worker, seen, out)))
        if "sink_vs_copy" in wanted:
            await phase({"sink_vs_copy"}, lambda: _one(sink_vs_copy(run, out, limit=200_000)))
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


def table(results: list[Result]) -> str:
    rows = [("benchmark", "value", "unit", "baseline", "ratio", "notes")]
    for r in results:
        note = ", ".join(f"{k}={v}" for k, v in r.detail.items())
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
