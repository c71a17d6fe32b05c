"""Signed checkpoints of the audit chain's head, kept where database access cannot rewrite them.

Someone who can write to PostgreSQL can cut the chain's tail and move ``audit_head`` back: the
chain that is left is consistent. A checkpoint (``audit.Checkpoint``: seq, hash, time and an HMAC
of them under the audit key) published while the tail still existed shows the cut, and one whose
hash differs from the record at its seq shows a rewrite. Checkpoints go to the
``audit-checkpoints`` topic (one partition, never deleted or compacted: ``streams/topics.py``),
and ``jackpot audit checkpoints export FILE`` copies them to a file to keep outside the cluster.

A ``Checkpointer`` runs in every process that appends to the chain (the sinks, the admin API):
every ``JACKPOT_AUDIT_CHECKPOINT_INTERVAL_S`` it publishes one when the head moved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from jackpot.streams import topics as T

from .audit import Checkpoint, head_of, key_bytes

log = logging.getLogger(__name__)

# (logical topic name, key, value): the hosting process's producer, as for the sinks' sends
Send = Callable[[str, bytes, bytes], Awaitable[Any]]


def topic_name(settings: Any) -> str:
    return settings.topic(T.AUDIT_CHECKPOINTS.name)


def record_key(cp: Checkpoint) -> bytes:
    """Keyed by seq: even on a topic someone switched to compaction, no checkpoint of another
    head replaces it."""
    return str(cp.seq).encode()


def producer_send(settings: Any, producer: Any) -> Send:
    """``Send`` over an aiokafka producer (logical topic name -> the settings' prefixed topic)."""
    async def send(name: str, key: bytes, value: bytes) -> None:
        await producer.send_and_wait(settings.topic(name), key=key, value=value)

    return send


async def checkpoint_now(settings: Any, database_url: str, key: bytes | None, topic: str | None = None) -> Checkpoint:
    """Read the chain's head and publish its checkpoint (``jackpot audit checkpoint``)."""
    from jackpot.streams.kafka import producer

    conn = await asyncpg.connect(database_url)
    try:
        seq, h = await head_of(conn)
    finally:
        await conn.close()
    cp = Checkpoint(seq, h, int(time.time() * 1000)).signed(key)
    async with producer(settings) as prod:
        await prod.send_and_wait(topic or topic_name(settings), key=record_key(cp), value=cp.to_json().encode())
    return cp


async def read_topic(settings: Any, topic: str, timeout: float = 30.0) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint on ``topic``, oldest first, and a problem for each record that is not one."""
    from jackpot.streams.kafka import assign_all, client_options

    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + timeout
        # ask the cluster first: a metadata request for a missing topic could auto-create it, with
        # the broker's defaults instead of "kept forever"
        while topic not in await consumer.topics():
            if loop.time() > min(deadline, start + 5):  # a topic created a moment ago may lag
                raise LookupError(f"topic {topic} does not exist")
            await asyncio.sleep(0.2)
        tps = await assign_all(consumer, topic, timeout)
        await consumer.seek_to_beginning(*tps)  # before end_offsets: the other order read nothing
        ends = await consumer.end_offsets(tps)
        out: list[Checkpoint] = []
        bad: list[str] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            if loop.time() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout} s")
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    where = f"{topic}[{tp.partition}]@{r.offset}"
                    try:
                        out.append(Checkpoint.from_json(r.value or b"", where))
                    except ValueError as exc:
                        bad.append(f"{where}: {exc}")
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out, bad
    finally:
        await consumer.stop()


def read_file(path: str) -> tuple[list[Checkpoint], list[str]]:
    """Checkpoints of an exported file (JSON lines), and a problem for each line that is not one."""
    out, bad = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(Checkpoint.from_json(line, f"{path}:{n}"))
            except ValueError as exc:
                bad.append(f"{path}:{n}: {exc}")
    return out, bad


class Checkpointer:
    """Publishes a checkpoint whenever the chain's head moved, every ``interval_s``.

    ``db`` is a DSN (one connection of its own, reopened after a failure) or a pool. Failures
    (database or broker down) are logged and retried at the next interval; they never stop the
    host process.
    """

    def __init__(self, settings: Any, send: Send, db: str | asyncpg.Pool | None = None) -> None:
        self.settings = settings
        self.send = send
        self.db = db or settings.database_url
        self.key = key_bytes(settings.audit_hmac_key)
        self.interval_s = settings.audit_checkpoint_interval_s
        self.last: tuple[int, str] | None = None
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-checkpointer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:
                conn.terminate()

    async def _head(self) -> tuple[int, str]:
        if isinstance(self.db, asyncpg.Pool):
            async with self.db.acquire() as conn:
                return await head_of(conn)
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.db)
        return await head_of(self._conn)

    async def tick(self) -> Checkpoint | None:
        """One round: the checkpoint published, or None when the head has not moved."""
        head = await self._head()
        if head[0] == 0 or head == self.last:
            return None
        if self.last is not None and head[0] < self.last[0]:
            log.error("audit chain head went back: records removed from the end?",
                      extra={"seq": head[0], "previous_seq": self.last[0]})
        cp = Checkpoint(head[0], head[1], int(time.time() * 1000)).signed(self.key)
        await self.send(T.AUDIT_CHECKPOINTS.name, record_key(cp), cp.to_json().encode())
        self.last = head
        return cp

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("audit checkpoint failed; retrying", extra={"error": repr(exc)})
                await self._close()
            await asyncio.sleep(self.interval_s)
