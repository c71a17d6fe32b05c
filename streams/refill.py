"""Refill a hole in an input partition by reading it straight from the broker.

When Faust's fetcher loses messages on their way to an agent (faust #596: a rebalance, a seek,
a stale fetch batch), seeking its consumer back is not dependable: the seek competes with
Faust's own read-offset bookkeeping and fetch batches already in flight, and under load the
hole can stay open until the worker restarts, which rebalances every worker and opens new
holes. The messages themselves are still in the log, so the gap guard reads the missing range
with a consumer of its own (no group, nothing committed) and hands it to the agent ahead of the
message that revealed the hole. The agent applies them in offset order, as if Faust had
delivered them, and once they are persisted the worker tells its consumer the range is done,
so the group's commit moves over it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP

from jackpot.settings import Settings
from jackpot.streams.kafka import client_options

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RefilledMessage:
    """The fields of a Faust message the agents read (timestamps in seconds, as Faust's)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    headers: list = field(default_factory=list)

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


class RefilledEvent:
    """Stands in for a Faust event (an agent reads ``value`` and ``message``; the tables read the
    partition of the "current event", which may be one of these)."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, message: RefilledMessage) -> None:
        self.message = message

    @property
    def value(self) -> bytes | None:
        return self.message.value

    @property
    def key(self) -> bytes | None:
        return self.message.key


class HoleReader:
    """Reads offset ranges of input partitions directly (one consumer per worker, started on
    first use, one range at a time), and where the group resumes a partition."""

    def __init__(self, settings: Settings, *, max_messages: int = 100_000, timeout_s: float = 20.0) -> None:
        self.settings = settings
        self.max_messages = max_messages
        self.timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def resume_offset(self, group_id: str, topic: str, partition: int, timeout_s: float = 10.0) -> int | None:
        """Where ``group_id`` resumes reading a partition: its committed offset, else (never
        committed) the log start; None when the broker cannot tell in time.

        Asked with clients of our own: through Faust's consumer, whose thread is busy fetching,
        each answer took about 1.5 s, and the agent waited for it at every first message of a
        partition (at a fresh start, half a minute before the last partition was applied)."""
        tp = TopicPartition(topic, partition)
        async with self._lock:
            try:
                return await asyncio.wait_for(self._resume_offset(group_id, tp), timeout_s)
            except Exception as exc:  # noqa: BLE001 - whatever failed (timeout, broker), the caller falls back
                log.warning("resume offset unknown", extra={"topic": topic, "partition": partition,
                                                            "error": repr(exc)})
                await self._reset()
                return None

    async def _resume_offset(self, group_id: str, tp: TopicPartition) -> int:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**client_options(self.settings))
            await admin.start()
            self._admin = admin
        committed = (await self._admin.list_consumer_group_offsets(group_id, partitions=[tp])).get(tp)
        if committed is not None and committed.offset >= 0:
            return committed.offset
        consumer = await self._client()
        return (await consumer.beginning_offsets([tp]))[tp]

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[RefilledEvent] | None:
        """Messages ``start`` .. ``end - 1`` of one partition, in order; None when they cannot
        all be read (too many, gone from the log, broker unreachable): the caller falls back."""
        if end - start > self.max_messages or end <= start:
            return None
        async with self._lock:
            try:
                return await asyncio.wait_for(self._read(topic, partition, start, end), self.timeout_s)
            except Exception as exc:  # noqa: BLE001 - whatever failed (timeout, broker), fall back
                log.warning("could not read the hole back", extra={"topic": topic, "partition": partition,
                                                                   "start": start, "end": end, "error": repr(exc)})
                await self._reset()
                return None

    async def _read(self, topic: str, partition: int, start: int, end: int) -> list[RefilledEvent] | None:
        consumer = await self._client()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        out: list[RefilledEvent] = []
        started = time.monotonic()
        while True:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=min(end - start, 5000))
            for rec in batch.get(tp, ()):
                if rec.offset < start + len(out):
                    continue
                if rec.offset != start + len(out):
                    return None  # the log itself has a hole here (compaction, retention): not ours to fill
                if rec.offset >= end:
                    return out
                out.append(RefilledEvent(RefilledMessage(
                    rec.topic, rec.partition, rec.offset, rec.key, rec.value, rec.timestamp / 1000.0,
                    list(rec.headers or ()))))
            if len(out) == end - start:
                return out
            if time.monotonic() - started > self.timeout_s:
                return None

    async def _client(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(**client_options(self.settings), enable_auto_commit=False,
                                              group_id=None, auto_offset_reset="none")
            await self._consumer.start()
        return self._consumer

    async def _reset(self) -> None:
        consumer, self._consumer = self._consumer, None
        admin, self._admin = self._admin, None
        for client in (consumer, admin):
            if client is None:
                continue
            try:
                await (client.stop() if client is consumer else client.close())
            except Exception:  # noqa: BLE001 - it is being replaced
                pass

    async def close(self) -> None:
        await self._reset()
