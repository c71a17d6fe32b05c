"""The bench's own run of the system: a fresh app id, topic prefix and database per run, real
worker (and gateway) processes, and small Kafka and PostgreSQL helpers to watch them.

Every run is isolated like a test module: topics under ``bench-<run>.``, consumer groups under
``jackpot-bench-<run>``, a PostgreSQL database ``jackpot_bench_<run>`` on the configured server,
Redis keys under the topic prefix.  All of it is removed when the run ends.

CPU figures are process CPU time (utime + stime of ``/proc/<pid>/stat``: user and system time of
every thread of the process, not wall time), read before and after the work measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from jackpot.ops.processes import Process
from jackpot.settings import Settings
from jackpot.streams import topics as T
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import assign_all, client_options, producer
from jackpot.streams.loadgen import BetStream, Brand, portfolio_brands
from jackpot.streams.publish import demo_portfolio, publish_configs


@dataclass
class Result:
    """One benchmark's figure; ``line()`` is its JSON line."""

    bench: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def line(self) -> dict[str, Any]:
        r = self.ratio
        out = {"bench": self.bench, "value": round(self.value, 3), "unit": self.unit,
               "baseline": None if self.baseline is None else round(self.baseline, 3),
               "ratio": None if r is None else round(r, 4)}
        if self.detail:
            out["detail"] = self.detail
        return out


# Bench workers are configured as a deployment that wants fail-over under 10 s would be: a
# SIGKILLed worker is noticed only when its session times out (15 s by default), so they use the
# smallest session timeout the settings allow, with a heartbeat a second. The price is that a
# worker stalled for six seconds (a long pause, a starved machine) is expelled and rebalanced.
FAIL_FAST = {"JACKPOT_SESSION_TIMEOUT_S": "6", "JACKPOT_HEARTBEAT_INTERVAL_S": "1"}
# The sinks run in a process of their own (``jackpot sinks``), as ops/k8s deploys them: the
# workers measured are router and jackpot agent only.
SINKS_APART = {"JACKPOT_WORKER_SINKS": "false"}


# ------------------------------------------------------------------- CPU time
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_from_stat(stat: str, ticks_per_s: int = CLK_TCK) -> float:
    """User + system CPU seconds of a ``/proc/<pid>/stat`` line: utime + stime (fields 14 and 15),
    every thread of the process included.  The command name (field 2) is in parentheses and may
    itself hold spaces and parentheses, so the fields are counted after its last ``)``."""
    rest = stat[stat.rindex(")") + 1:].split()
    # rest[0] is field 3 (state): field k is rest[k - 3]
    return (int(rest[11]) + int(rest[12])) / ticks_per_s


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, not wall time) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        return cpu_from_stat(f.read())


class CpuMeter:
    """CPU seconds some processes use from now on: a start sample of each, and ``since(name)``.
    A process given as None (not found) reads as None."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self.start = {name: process_cpu_s(pid) for name, pid in self.pids.items()}

    def since(self, name: str) -> float | None:
        if name not in self.pids:
            return None
        return process_cpu_s(self.pids[name]) - self.start[name]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def broker_pid(settings: Settings) -> int | None:
    """The local stack's Kafka broker (its pid file, else the one ``kafka.Kafka`` process), or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((settings.stack_dir / "kafka.pid").read_text().split()[0])
        if "kafka.Kafka" in _cmdline(pid):
            return pid
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found = subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True, timeout=10)
        pids = [int(x) for x in found.stdout.split() if x.isdigit() and int(x) != os.getpid()]
        if len(pids) == 1:
            return pids[0]
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(out: TextIO | None, msg: str) -> None:
    if out is not None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=out, flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


# ----------------------------------------------------------------- portfolio
HOT_BRAND = "bench-hot"


def _fresh_copy(doc: dict, name: str, brand: str, currencies: list[str] | None = None) -> dict:
    d = copy.deepcopy(doc)
    d["jackpot_id"] = str(uuid.uuid4())
    d["name"] = name
    d["internal_name"] = name.lower().replace(" ", "-").replace("#", "")
    d["brands"] = [brand]
    if currencies:
        d["currencies"] = currencies
    for lv in d["levels"]:
        lv["level_id"] = str(uuid.uuid4())
    return d


def bench_portfolio(jackpots: int = 20) -> tuple[list[dict], list[Brand], dict]:
    """The day-one portfolio on its brand, copies of it on one brand each up to ``jackpots - 1``,
    and one hot jackpot on a brand of its own (for the single-jackpot benchmark)."""
    demo = demo_portfolio()
    docs = list(demo)
    brands = portfolio_brands()
    k = 0
    while len(docs) < jackpots - 1:
        src = demo[k % len(demo)]
        k += 1
        brand = f"bench-brand-{k}"
        docs.append(_fresh_copy(src, f"{src['name']} {k}", brand))
        brands.append(Brand(brand, 0.5, tuple((c, 1.0) for c in src["currencies"])))
    hot = _fresh_copy(demo[0], "Bench Hot", HOT_BRAND, ["EUR"])
    docs.append(hot)
    return docs, brands, hot


def hot_stream(hot: dict, players: int, seed: int) -> BetStream:
    """Bets that only the hot jackpot takes: its brand, EUR, its best-funded game."""
    game = max(hot["games"], key=lambda g: float(g["coefficient"]))["game_id"]
    return BetStream(players=players, seed=seed, bonus_share=0.0, brands=[Brand(HOT_BRAND, 1.0, (("EUR", 1.0),))],
                     games={game: 1.0})


def encode_bets(stream: BetStream, count: int, topic: str) -> list[tuple[str, bytes, bytes, str]]:
    """``count`` bets as (topic, key, Avro value, bet id), encoded up front so producing them
    later costs the producer only the send."""
    codec = catalog()
    out = []
    for _ in range(count):
        bet = stream.next()
        out.append((topic, bet["player_id"].encode(), codec.encode("BetPlaced", bet), bet["event_id"]))
    return out


async def send_all(settings: Settings, records, on_sent=None) -> float:
    """Produce pre-encoded records as fast as the producer takes them; return the seconds taken."""
    t0 = time.monotonic()
    async with producer(settings, linger_ms=5) as prod:
        pending = []
        for topic, key, value, bet_id in records:
            if on_sent is not None:
                on_sent(bet_id)
            pending.append(await prod.send(topic, key=key, value=value))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return time.monotonic() - t0


class ModuleProcess(Process):
    """A bench child that is not a ``jackpot`` command: ``python -m <module> <args>``, with the
    same log file, liveness and stop as :class:`Process`."""

    def __init__(self, name: str, module: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        super().__init__(name, args, env, log_dir, module=module)


# ------------------------------------------------------------------- the run
class BenchRun:
    """Fresh names for one bench run; workers and gateways it starts; cleanup."""

    def __init__(self, base: Settings | None = None, out: TextIO | None = sys.stderr, keep: bool = False) -> None:
        base = base or Settings()
        self.base = base
        self.run = uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix=f"jackpot-bench-{self.run}-"))
        self.db_name = f"jackpot_bench_{self.run}"
        self.admin_dsn = with_database(base.database_url, "postgres")
        self.settings = Settings(
            KAFKA_BOOTSTRAP_SERVERS=base.kafka_bootstrap_servers,
            DATABASE_URL=with_database(base.database_url, self.db_name),
            REDIS_URL=base.redis_url,
            JACKPOT_APP_ID=f"jackpot-bench-{self.run}",
            JACKPOT_TOPIC_PREFIX=f"bench-{self.run}.",
            JACKPOT_DATA_DIR=self.tmp / "worker-0",
            JACKPOT_PARTITIONS=base.partitions,
            JACKPOT_GATEWAY_PORT=free_port(),
            JACKPOT_GATEWAY_METRICS_PORT=free_port(),
            JACKPOT_WORKER_WEB_PORT=free_port(),
            WALLET_URL=base.wallet_url,
            SCHEMA_REGISTRY_URL=base.schema_registry_url,
        )
        self.out = out
        self.keep = keep
        self.procs: list[Process] = []
        self.failed = False  # a benchmark failed: keep the process logs
        self.extra_databases: list[str] = []

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "BenchRun":
        from jackpot.sinks.migrate import migrate
        from jackpot.streams.topics import ensure_topics

        await self.create_database(self.db_name)
        await ensure_topics(self.settings)
        await migrate(self.settings.database_url)
        log(self.out, f"run {self.run}: topics {self.settings.topic_prefix}*, database {self.db_name}")
        return self

    async def __aexit__(self, *exc) -> None:
        for p in self.procs:
            p.stop()
        if self.keep:
            log(self.out, f"kept topics, database and logs of run {self.run} in {self.tmp}")
            return
        failed = exc[0] is not None or self.failed
        if failed:  # a failed run: its process logs say why, so they stay
            log(self.out, f"run {self.run} failed; process logs kept in {self.tmp}")
            for p in self.procs:
                log(self.out, f"--- {p.name}, last lines:\n{p.log_tail()}")
        with contextlib.suppress(Exception):
            await self._delete_topics()
        with contextlib.suppress(Exception):
            await self._delete_redis_keys()
        for name in [self.db_name, *self.extra_databases]:
            with contextlib.suppress(Exception):
                await self.drop_database(name)
        if not failed:
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        if name != self.db_name:
            self.extra_databases.append(name)
        return with_database(self.settings.database_url, name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def _delete_topics(self) -> None:
        await T.delete_app_topics(self.settings)

    async def _delete_redis_keys(self) -> None:
        import redis.asyncio as aioredis

        r = aioredis.from_url(self.settings.redis_url)
        try:
            async for k in r.scan_iter(match=self.settings.topic_prefix + "*"):
                await r.delete(k)
        finally:
            await r.aclose()

    # ------------------------------------------------------------ processes
    def spawn(self, name: str, *args: str, **env: str) -> Process:
        e = self.settings.to_env()
        e.update({k: str(v) for k, v in env.items()})
        p = Process(name, list(args), e, self.tmp)
        self.procs.append(p)
        return p

    def module(self, name: str, module: str, *args: str, **env: str) -> Process:
        """``python -m module args`` with this run's settings in its environment."""
        e = self.settings.to_env()
        e.update({k: str(v) for k, v in env.items()})
        p = ModuleProcess(name, module, list(args), e, self.tmp)
        self.procs.append(p)
        return p

    def worker(self, index: int = 0, **env: str) -> Process:
        return self.spawn(f"worker-{index}", "worker", JACKPOT_DATA_DIR=str(self.tmp / f"worker-{index}"),
                          JACKPOT_WORKER_WEB_PORT=str(free_port()), **{**FAIL_FAST, **SINKS_APART, **env})

    def sinks(self) -> Process:
        return self.spawn("sinks", "sinks", JACKPOT_SINKS_WEB_PORT=str(free_port()))

    def topic(self, spec: T.TopicSpec) -> str:
        return self.settings.topic(spec.name)

    async def publish(self, docs: list[dict]) -> None:
        await publish_configs(self.settings, docs)

    # ---------------------------------------------------------------- kafka
    async def end_offsets(self, topic: str) -> dict[TopicPartition, int]:
        c = AIOKafkaConsumer(**client_options(self.settings), group_id=None)
        await c.start()
        try:
            tps = await assign_all(c, topic)
            return await c.end_offsets(tps)
        finally:
            await c.stop()

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
            return {tp: om.offset for tp, om in offsets.items()}
        finally:
            await admin.close()

    async def wait_consumed(self, topics: list[str], timeout: float, procs: list[Process] = (),
                            group: str | None = None, on_caught_up=None) -> None:
        """Until the worker group's committed offsets reach the end of ``topics`` and stay there."""
        await self.wait_groups({group or self.settings.app_id: topics}, timeout, procs, on_caught_up)

    async def wait_groups(self, groups: dict[str, list[str]], timeout: float, procs: list[Process] = (),
                          on_caught_up=None) -> None:
        """Until each consumer group's committed offsets reach the end of its topics and stay there
        for two polls; one consumer and one admin client poll throughout (little load of its own
        on the broker, whose CPU the bench measures).  ``on_caught_up()`` is called at the first
        poll of every run of caught-up polls: its last call marks when the groups got there."""
        deadline = time.monotonic() + timeout
        stable = 0
        # caught up: committed where the ends were at the previous poll (clock ticks keep coming
        # on the jackpots' input log, so committed == end at one instant would be luck there)
        before: dict = {}
        c = AIOKafkaConsumer(**client_options(self.settings), group_id=None)
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        await c.start()
        await admin.start()
        try:
            tps = {t: await partitions_of(c, t) for ts in groups.values() for t in ts}
            while time.monotonic() < deadline:
                for p in procs:
                    if not p.alive():
                        raise RuntimeError(f"{p.name} exited:\n{p.log_tail()}")
                behind = 0
                for group, topics in groups.items():
                    ends = await c.end_offsets([tp for t in topics for tp in tps[t]])
                    done = {tp: om.offset for tp, om in (await admin.list_consumer_group_offsets(group)).items()}
                    behind += sum(max(0, before.get(tp, end) - done.get(tp, 0)) for tp, end in ends.items())
                    before.update(ends)
                stable = stable + 1 if behind == 0 else 0
                if stable == 1 and on_caught_up is not None:
                    on_caught_up()
                if stable >= 2:
                    return
                await asyncio.sleep(0.5)
        finally:
            await c.stop()
            await admin.close()
        raise TimeoutError(f"{', '.join(groups)} did not consume {sorted({t for ts in groups.values() for t in ts})} "
                           f"within {timeout:.0f}s")

    async def records(self, topic: str, start: dict[TopicPartition, int] | None = None,
                      key: bytes | None = None, timeout: float = 60.0) -> list:
        """Every record of ``topic`` from ``start`` (default: the beginning) to its end now."""
        c = AIOKafkaConsumer(**client_options(self.settings), group_id=None,
                             enable_auto_commit=False, max_partition_fetch_bytes=4 << 20)
        await c.start()
        try:
            tps = await assign_all(c, topic)
            end = await c.end_offsets(tps)
            for tp in tps:
                c.seek(tp, (start or {}).get(tp, 0))
            remaining = {tp for tp in tps if end[tp] > (start or {}).get(tp, 0)}
            out = []
            deadline = time.monotonic() + timeout
            while remaining and time.monotonic() < deadline:
                for tp, msgs in (await c.getmany(timeout_ms=500, max_records=20000)).items():
                    out.extend(m for m in msgs if m.offset < end[tp] and (key is None or m.key == key))
                for tp in list(remaining):
                    if await c.position(tp) >= end[tp]:
                        remaining.discard(tp)
            if remaining:
                raise TimeoutError(f"could not read {topic} to its end")
            return out
        finally:
            await c.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str, timeout: float = 30.0) -> list[TopicPartition]:
    """Every partition of ``topic``, from metadata only: the consumer is not assigned them (an
    assigned consumer fetches in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} has no partitions (does it exist?)")
        consumer._client.add_topic(topic)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)


class TopicWatcher:
    """A group-less consumer from the end of some topics, recording (receive time, record)."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        self.settings = settings
        self.topics = topics
        self.seen: list[tuple[float, Any]] = []
        self._task: asyncio.Task | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        c = AIOKafkaConsumer(**client_options(self.settings), group_id=None,
                             enable_auto_commit=False, fetch_max_wait_ms=5)
        await c.start()
        all_tps = []
        for t in self.topics:
            parts = c.partitions_for_topic(t)
            while not parts:
                c._client.add_topic(t)
                await c._client.force_metadata_update()
                parts = c.partitions_for_topic(t)
            all_tps += [TopicPartition(t, p) for p in sorted(parts)]
        c.assign(all_tps)
        await c.seek_to_end(*all_tps)
        for tp in all_tps:
            await c.position(tp)
        self._consumer = c
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.time()
            for msgs in batches.values():
                self.seen.extend((now, m) for m in msgs)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()
