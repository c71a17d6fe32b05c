"""``python -m jackpot.bench.transactions``: what Kafka transactions would cost per jackpot batch.

Today the jackpot agent commits a batch at least once: its outputs and table changelog records
go out through an idempotent acks=all producer, the agent waits for their delivery, and Faust
commits the input offsets later (replays are deduplicated by the agent).  The alternative is one
Kafka transaction per batch, driven by our own code through a transactional aiokafka producer:
outputs, changelog records and the input offsets become visible together or not at all, and a
zombie producer is fenced by the epoch of its ``transactional_id``.  This bench measures what
that costs, on the configured broker (``Settings``), in a run of its own:

- topics ``bench-tx-<run>.outputs`` and ``.changelog`` (8 partitions each, the changelog
  compacted) and ``.input`` (8 partitions, 2,000 records in each of 4 of them so that the offsets
  put into transactions exist), all deleted at the end; a consumer group ``bench-tx-<run>.group``
  with one live member subscribed to the input topic (its partitions paused), the group whose
  offsets the transactions commit;
- per batch size (10, 50, 200, 1000 records of ~200 bytes, half to each topic, keys on 4
  partitions of each topic, as one agent batch touching 4 jackpot partitions):

  a) ``idempotent``: enable_idempotence, acks=all, linger 2 ms, lz4; send the batch and await
     every delivery;
  b) ``transactional``: the same producer settings with a ``transactional_id``;
     begin_transaction, send the batch, send_offsets_to_transaction for 4 input partitions of
     the run's consumer group, commit_transaction;

  measured alternately, batch by batch, after a few unmeasured ones: wall ms per batch (median,
  p90, p99) and this process's CPU (``time.process_time``) per batch and per record, and the
  ratios b/a (400 batches per size and mode, 80 of 1000 records);
- the start (InitProducerId) time of fresh transactional producers (idempotent ones alongside);
- fencing: a second producer with the same ``transactional_id`` starts while the first has a
  transaction open; the first's next send and its commit fail (exception classes printed);
- one aborted transaction (records and offsets), then a read back at
  ``isolation_level="read_committed"``: the aborted and the fenced batches are invisible, every
  committed batch is complete, and the group's committed offsets are the last committed ones.

aiokafka 0.14 speaks the v0 transaction requests only (no KIP-447 group metadata in
TxnOffsetCommit, no KIP-890 transaction version 2).  When the broker's transaction verification
(Kafka 3.6+) gets CONCURRENT_TRANSACTIONS or a coordinator error, it answers such a client's
produce with NOT_ENOUGH_REPLICAS (TxnOffsetCommit: COORDINATOR_NOT_AVAILABLE), and aiokafka
retries after ``retry_backoff_ms`` (``--retry-backoff-ms``, 100 by default); an AddPartitionsToTxn
that meets the previous transaction still completing waits 20 ms.  Those waits are the p90/p99 of
the transactional batches.

Output: a table, then one JSON line per measurement (stdout).  The run takes about half a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jackpot.settings import Settings
from jackpot.streams.kafka import assign_all, client_options, partition_for

PARTITIONS = 8  # outputs, changelog and input topics
TOUCHED = 4  # partitions of each topic one batch writes to (and input partitions it commits)
INPUT_PER_PARTITION = 2000  # records produced to each touched input partition up front
SIZES = (10, 50, 200, 1000)


# -- records ---------------------------------------------------------------------------------

def keys_by_partition(partitions: int, touched: int) -> list[list[bytes]]:
    """Jackpot-like keys, grouped by the partition the default partitioner gives them: the first
    ``touched`` partitions that have keys, a few keys each."""
    groups: dict[int, list[bytes]] = {}
    i = 0
    while len([p for p, ks in groups.items() if len(ks) >= 4]) < touched:
        key = f"jp-{i:05d}".encode()
        groups.setdefault(partition_for(key, partitions), []).append(key)
        i += 1
    full = sorted(p for p, ks in groups.items() if len(ks) >= 4)[:touched]
    return [groups[p][:4] for p in full]


def make_batch(rng: random.Random, topics: tuple[str, str], keys: list[list[bytes]], size: int,
               tag: str, value_bytes: int) -> list[tuple[str, bytes, bytes]]:
    """``size`` records (topic, key, value): alternately to the output and the changelog topic,
    round robin over the touched partitions.  A value starts with ``tag|index|`` (the read back
    counts records by tag) and is padded with JSON-like text to ``value_bytes``."""
    out = []
    for i in range(size):
        topic = topics[i % 2]
        group = keys[(i // 2) % len(keys)]
        key = group[(i // (2 * len(keys))) % len(group)]
        head = f"{tag}|{i}|".encode()
        body = (f'{{"jackpot":"{key.decode()}","amount_micros":{rng.randrange(10**12)},'
                f'"seq":{rng.randrange(10**9)},"player":"p-{rng.randrange(10**8):08d}",'
                f'"ts":{rng.randrange(10**13)},"pool":"{rng.randrange(10**15)}"}}').encode()
        pad = value_bytes - len(head) - len(body)
        out.append((topic, key, head + body + b" " * max(0, pad)))
    return out


# -- statistics ------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(mode: str, size: int, walls: list[float], cpus: list[float]) -> dict[str, Any]:
    """Wall seconds and CPU seconds per batch -> the JSON line of one (mode, size)."""
    cpu_mean_us = statistics.fmean(cpus) * 1e6
    return {
        "measure": "batch", "mode": mode, "records": size, "batches": len(walls),
        "wall_ms_p50": round(statistics.median(walls) * 1e3, 3),
        "wall_ms_p90": round(percentile(walls, 0.90) * 1e3, 3),
        "wall_ms_p99": round(percentile(walls, 0.99) * 1e3, 3),
        "wall_ms_mean": round(statistics.fmean(walls) * 1e3, 3),
        "wall_ms_max": round(max(walls) * 1e3, 3),
        "batches_over_50ms": sum(1 for w in walls if w > 0.05),
        "cpu_us_per_batch": round(cpu_mean_us, 1),
        "cpu_us_per_batch_p50": round(statistics.median(cpus) * 1e6, 1),
        "cpu_us_per_record": round(cpu_mean_us / size, 2),
    }


def ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "measure": "ratio_tx_over_idempotent", "records": a["records"],
        "wall_p50_ratio": round(b["wall_ms_p50"] / a["wall_ms_p50"], 2),
        "wall_p99_ratio": round(b["wall_ms_p99"] / a["wall_ms_p99"], 2),
        "cpu_ratio": round(b["cpu_us_per_batch"] / a["cpu_us_per_batch"], 2),
        "added_wall_ms_p50": round(b["wall_ms_p50"] - a["wall_ms_p50"], 3),
        "added_cpu_us_per_batch": round(b["cpu_us_per_batch"] - a["cpu_us_per_batch"], 1),
        "added_cpu_us_per_record": round(b["cpu_us_per_record"] - a["cpu_us_per_record"], 2),
    }


# -- the bench -------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        self.args = args
        self.opts = client_options(settings)
        self.run = f"bench-tx-{uuid.uuid4().hex[:10]}"
        self.outputs = f"{self.run}.outputs"
        self.changelog = f"{self.run}.changelog"
        self.input = f"{self.run}.input"
        self.group = f"{self.run}.group"
        self.rng = random.Random(args.seed)
        self.keys = keys_by_partition(PARTITIONS, TOUCHED)
        self.input_tps = [TopicPartition(self.input, p) for p in range(TOUCHED)]
        self.input_end = INPUT_PER_PARTITION
        self.next_offset = 0  # the input offsets a transaction commits: one higher every batch
        self.last_committed_offset: int | None = None
        # tag -> records in the batch, for the read back: committed batches, and the batches
        # that must be invisible at read_committed (aborted, fenced)
        self.committed: dict[str, int] = {}
        self.baseline: dict[str, int] = {}
        self.invisible: dict[str, int] = {}
        self.lines: list[dict[str, Any]] = []

    def producer(self, transactional_id: str | None = None) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **self.opts, acks="all", enable_idempotence=True, linger_ms=self.args.linger_ms,
            compression_type="lz4", transactional_id=transactional_id,
            retry_backoff_ms=self.args.retry_backoff_ms,
            client_id=transactional_id or f"{self.run}-idempotent")

    def batch(self, size: int, tag: str) -> list[tuple[str, bytes, bytes]]:
        return make_batch(self.rng, (self.outputs, self.changelog), self.keys, size, tag,
                          self.args.value_bytes)

    def offsets(self) -> dict[TopicPartition, int]:
        self.next_offset = min(self.next_offset + 1, self.input_end)
        return {tp: self.next_offset for tp in self.input_tps}

    def emit(self, line: dict[str, Any]) -> None:
        self.lines.append(line)

    # set-up and tear-down

    async def setup(self) -> None:
        admin = AIOKafkaAdminClient(**self.opts)
        await admin.start()
        try:
            await admin.create_topics([
                NewTopic(self.outputs, PARTITIONS, 1),
                NewTopic(self.changelog, PARTITIONS, 1, topic_configs={"cleanup.policy": "compact"}),
                NewTopic(self.input, PARTITIONS, 1),
            ])
        finally:
            await admin.close()
        prod = self.producer()
        await prod.start()
        try:
            value = b"x" * self.args.value_bytes
            futs = []
            for tp in self.input_tps:
                for i in range(INPUT_PER_PARTITION):
                    futs.append(await prod.send(tp.topic, value, key=f"in-{i}".encode(),
                                                partition=tp.partition))
            # one record to every partition of the output topics: a partition accepts acks=all
            # writes a moment after its creation only, and no measured batch should wait for it
            for topic in (self.outputs, self.changelog):
                for p in range(PARTITIONS):
                    futs.append(await prod.send(topic, b"setup|", key=b"setup", partition=p))
            await asyncio.gather(*futs)
        finally:
            await prod.stop()

    async def teardown(self) -> None:
        admin = AIOKafkaAdminClient(**self.opts)
        await admin.start()
        try:
            await admin.delete_topics([self.outputs, self.changelog, self.input])
        finally:
            await admin.close()

    # measurements

    async def one_idempotent(self, prod: AIOKafkaProducer, records) -> tuple[float, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        futs = [await prod.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futs)
        return time.perf_counter() - t0, time.process_time() - c0

    async def one_transaction(self, prod: AIOKafkaProducer, records, offsets) -> tuple[float, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        await prod.begin_transaction()
        futs = [await prod.send(topic, value, key=key) for topic, key, value in records]
        await prod.send_offsets_to_transaction(offsets, self.group)
        await prod.commit_transaction()
        await asyncio.gather(*futs)  # all resolved by the commit; raises if one failed
        return time.perf_counter() - t0, time.process_time() - c0

    async def measure_init(self) -> None:
        """Start (InitProducerId, coordinator look-up, metadata) of fresh transactional producers,
        and of idempotent ones for comparison."""
        for mode in ("idempotent", "transactional"):
            walls, cpus = [], []
            for i in range(self.args.init_runs):
                prod = self.producer(f"{self.run}-init-{i}" if mode == "transactional" else None)
                c0, t0 = time.process_time(), time.perf_counter()
                await prod.start()
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                await prod.stop()
            self.emit({"measure": "producer_start", "mode": mode, "runs": len(walls),
                       "first_ms": round(walls[0] * 1e3, 2),
                       "wall_ms_p50": round(statistics.median(walls) * 1e3, 2),
                       "wall_ms_max": round(max(walls) * 1e3, 2),
                       "cpu_us_p50": round(statistics.median(cpus) * 1e6, 1)})

    async def measure_batches(self, tx: AIOKafkaProducer, idem: AIOKafkaProducer) -> None:
        seq = 0
        for size in self.args.sizes:
            n = self.args.batches if size < 1000 else self.args.batches_large
            walls = {"idempotent": [], "transactional": []}
            cpus = {"idempotent": [], "transactional": []}
            for i in range(self.args.warmup + n):
                seq += 1
                a_tag, b_tag = f"a{size}-{seq}", f"b{size}-{seq}"
                a_records, b_records = self.batch(size, a_tag), self.batch(size, b_tag)
                order = ("idempotent", "transactional") if i % 2 == 0 else ("transactional", "idempotent")
                for mode in order:
                    if mode == "idempotent":
                        wall, cpu = await self.one_idempotent(idem, a_records)
                        self.baseline[a_tag] = size
                    else:
                        offsets = self.offsets()
                        wall, cpu = await self.one_transaction(tx, b_records, offsets)
                        self.committed[b_tag] = size
                        self.last_committed_offset = offsets[self.input_tps[0]]
                    if i >= self.args.warmup:
                        walls[mode].append(wall)
                        cpus[mode].append(cpu)
            a = summary("idempotent", size, walls["idempotent"], cpus["idempotent"])
            b = summary("transactional", size, walls["transactional"], cpus["transactional"])
            self.emit(a)
            self.emit(b)
            self.emit(ratio(a, b))

    async def measure_abort(self, tx: AIOKafkaProducer) -> None:
        """One transaction aborted after its records were delivered and its offsets added; then
        one more committed (the producer goes on after an abort)."""
        size = 200
        records = self.batch(size, "abort-1")
        offsets = {tp: self.input_end for tp in self.input_tps}  # must not become committed
        c0, t0 = time.process_time(), time.perf_counter()
        await tx.begin_transaction()
        futs = [await tx.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futs)
        await tx.send_offsets_to_transaction(offsets, self.group)
        await tx.abort_transaction()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.invisible["abort-1"] = size
        after = self.offsets()
        await self.one_transaction(tx, self.batch(size, "after-abort"), after)
        self.committed["after-abort"] = size
        self.last_committed_offset = after[self.input_tps[0]]
        self.emit({"measure": "abort", "records": size, "wall_ms": round(wall * 1e3, 3),
                   "cpu_us": round(cpu * 1e6, 1), "delivered_before_abort": len(futs)})

    async def measure_fencing(self) -> None:
        """A zombie: producer 1 has a transaction open (records delivered) when producer 2 starts
        with the same transactional_id.  The broker aborts the open transaction and bumps the
        epoch; producer 1's next send and its commit must fail."""
        tid = f"{self.run}-fence"
        timeout = self.args.fence_timeout
        first = self.producer(tid)
        await first.start()
        await first.begin_transaction()
        futs = [await first.send(t, v, key=k) for t, k, v in self.batch(20, "zombie-1")]
        await asyncio.gather(*futs)
        self.invisible["zombie-1"] = 20

        second = self.producer(tid)
        t0 = time.perf_counter()
        await second.start()
        second_start_ms = (time.perf_counter() - t0) * 1e3
        # producer id and epoch: aiokafka keeps them in its (private) transaction manager
        epochs = (first._txn_manager.producer_epoch, second._txn_manager.producer_epoch)
        same_pid = first._txn_manager.producer_id == second._txn_manager.producer_id

        async def outcome(coro) -> str:
            try:
                await asyncio.wait_for(coro, timeout)
            except Exception as exc:  # the point: which exception a fenced producer sees
                return type(exc).__name__
            return "ok"

        async def send_one() -> None:
            (topic, key, value), = self.batch(1, "zombie-2")
            fut = await first.send(topic, value, key=key)
            await fut

        self.invisible["zombie-2"] = 1
        send_result = await outcome(send_one())
        commit_result = await outcome(first.commit_transaction())
        state = first._txn_manager.state.name
        await outcome(first.stop())

        # the new owner works: one transaction with records and offsets
        after = self.offsets()
        t0 = time.perf_counter()
        await self.one_transaction(second, self.batch(20, "new-owner"), after)
        new_owner_ms = (time.perf_counter() - t0) * 1e3
        self.committed["new-owner"] = 20
        self.last_committed_offset = after[self.input_tps[0]]
        await second.stop()
        self.emit({"measure": "fencing", "second_start_ms": round(second_start_ms, 2),
                   "same_producer_id": same_pid, "epoch_first": epochs[0], "epoch_second": epochs[1],
                   "zombie_send": send_result, "zombie_commit": commit_result,
                   "zombie_state": state, "new_owner_commit": "ok",
                   "new_owner_txn_ms": round(new_owner_ms, 2)})

    async def read_back(self) -> None:
        """Count the run's records by tag at read_committed (and, for contrast, read_uncommitted)."""
        for isolation in ("read_committed", "read_uncommitted"):
            consumer = AIOKafkaConsumer(**self.opts, group_id=None, enable_auto_commit=False,
                                        auto_offset_reset="earliest", isolation_level=isolation,
                                        max_partition_fetch_bytes=4 * 1024 * 1024)
            await consumer.start()
            try:
                tps = await assign_all(consumer, self.outputs)  # (waits for each topic's metadata)
                tps += await assign_all(consumer, self.changelog)
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                end = await consumer.end_offsets(tps)  # the last stable offset at read_committed
                counts: Counter[str] = Counter()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                    if loop.time() > deadline:
                        raise TimeoutError(f"read back at {isolation} did not reach the end")
                    got = await consumer.getmany(timeout_ms=500, max_records=10000)
                    for msgs in got.values():
                        for msg in msgs:
                            counts[msg.value.split(b"|", 1)[0].decode()] += 1
            finally:
                await consumer.stop()
            committed_complete = sum(1 for tag, n in self.committed.items() if counts[tag] == n)
            self.emit({
                "measure": "read_back", "isolation_level": isolation,
                "records_read": sum(counts.values()),
                "committed_batches": len(self.committed),
                "committed_batches_complete": committed_complete,
                "committed_records_expected": sum(self.committed.values()),
                "committed_records_seen": sum(counts[t] for t in self.committed),
                "idempotent_records_expected": sum(self.baseline.values()),
                "idempotent_records_seen": sum(counts[t] for t in self.baseline),
                "aborted_or_fenced_records_written": sum(self.invisible.values()),
                "aborted_or_fenced_records_seen": {t: counts[t] for t in self.invisible},
            })

        consumer = AIOKafkaConsumer(**self.opts, group_id=self.group, enable_auto_commit=False)
        await consumer.start()
        try:
            committed = {tp.partition: await consumer.committed(tp) for tp in self.input_tps}
        finally:
            await consumer.stop()
        self.emit({"measure": "group_offsets", "group": self.group,
                   "committed": committed, "expected_last_committed": self.last_committed_offset,
                   "aborted_offset_not_committed": all(o != self.input_end for o in committed.values()),
                   "ok": all(o == self.last_committed_offset for o in committed.values())})

    async def join_group(self) -> AIOKafkaConsumer:
        """A member of the run's consumer group, subscribed to the input topic (as a worker is),
        its partitions paused: the offsets go into transactions for a live group."""
        member = AIOKafkaConsumer(self.input, **self.opts, group_id=self.group,
                                  enable_auto_commit=False, auto_offset_reset="earliest")
        await member.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not member.assignment():
            if loop.time() > deadline:
                raise TimeoutError(f"no assignment in group {self.group}")
            await asyncio.sleep(0.05)
        member.pause(*member.assignment())
        return member

    async def main(self) -> None:
        t_start = time.perf_counter()
        await self.setup()
        member = None
        try:
            member = await self.join_group()
            await self.measure_init()
            tx = self.producer(f"{self.run}-main")
            idem = self.producer()
            await tx.start()
            await idem.start()
            try:
                await self.measure_batches(tx, idem)
                await self.measure_abort(tx)
            finally:
                await tx.stop()
                await idem.stop()
            await self.measure_fencing()
            await member.stop()
            member = None
            await self.read_back()
        finally:
            if member is not None:
                await member.stop()
            await self.teardown()
        self.emit({"measure": "run", "seconds": round(time.perf_counter() - t_start, 1),
                   "value_bytes": self.args.value_bytes, "linger_ms": self.args.linger_ms,
                   "retry_backoff_ms": self.args.retry_backoff_ms,
                   "partitions_touched_per_batch": 2 * TOUCHED, "input_partitions": TOUCHED})
        self.report()

    # output

    def report(self) -> None:
        rows = [l for l in self.lines if l["measure"] == "batch"]
        ratios = {l["records"]: l for l in self.lines if l["measure"] == "ratio_tx_over_idempotent"}
        head = (f"{'records':>7} {'mode':<13} {'batches':>7} {'wall p50 ms':>11} {'p90 ms':>7} "
                f"{'p99 ms':>7} {'CPU us/batch':>12} {'CPU us/rec':>10} {'b/a wall p50':>12} {'b/a CPU':>7}")
        print(head)
        print("-" * len(head))
        for r in rows:
            rt = ratios[r["records"]] if r["mode"] == "transactional" else None
            print(f"{r['records']:>7} {r['mode']:<13} {r['batches']:>7} {r['wall_ms_p50']:>11.2f} "
                  f"{r['wall_ms_p90']:>7.2f} {r['wall_ms_p99']:>7.2f} {r['cpu_us_per_batch']:>12.0f} "
                  f"{r['cpu_us_per_record']:>10.1f} {(str(rt['wall_p50_ratio']) if rt else ''):>12} "
                  f"{(str(rt['cpu_ratio']) if rt else ''):>7}")
        print()
        for l in self.lines:
            if l["measure"] == "producer_start":
                print(f"producer start ({l['mode']}): first {l['first_ms']} ms, median "
                      f"{l['wall_ms_p50']} ms of {l['runs']}, CPU {l['cpu_us_p50']} us")
            elif l["measure"] == "fencing":
                print(f"fencing: second producer started in {l['second_start_ms']} ms (epoch "
                      f"{l['epoch_first']} -> {l['epoch_second']}); zombie send -> {l['zombie_send']}, "
                      f"zombie commit -> {l['zombie_commit']} (state {l['zombie_state']}); "
                      f"new owner commit {l['new_owner_commit']}")
            elif l["measure"] == "abort":
                print(f"abort of a {l['records']}-record transaction: {l['wall_ms']} ms")
            elif l["measure"] == "read_back":
                print(f"read back at {l['isolation_level']}: committed {l['committed_records_seen']}/"
                      f"{l['committed_records_expected']} records, {l['committed_batches_complete']}/"
                      f"{l['committed_batches']} batches complete; aborted/fenced seen "
                      f"{l['aborted_or_fenced_records_seen']} of "
                      f"{l['aborted_or_fenced_records_written']} written")
            elif l["measure"] == "group_offsets":
                print(f"group offsets after the run: {l['committed']} "
                      f"(expected {l['expected_last_committed']}, ok={l['ok']})")
        print()
        for l in self.lines:
            print(json.dumps(l))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m jackpot.bench.transactions",
                                description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=list(SIZES),
                   help="records per batch, comma separated (default 10,50,200,1000)")
    p.add_argument("--batches", type=int, default=400, help="measured batches per size and mode")
    p.add_argument("--batches-large", type=int, default=80, help="... for sizes of 1000 and more")
    p.add_argument("--warmup", type=int, default=5, help="unmeasured batches first, per size")
    p.add_argument("--value-bytes", type=int, default=200)
    p.add_argument("--linger-ms", type=int, default=2)
    p.add_argument("--retry-backoff-ms", type=int, default=100,
                   help="producers' retry_backoff_ms (aiokafka's default 100): the wait after a "
                        "retriable answer, e.g. while the previous transaction's markers are written")
    p.add_argument("--init-runs", type=int, default=10, help="producer starts measured per mode")
    p.add_argument("--fence-timeout", type=float, default=20.0, help="seconds to wait for a zombie's call")
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    asyncio.run(Bench(parse(argv), Settings()).main())


if __name__ == "__main__":  # pragma: no cover
    main()
