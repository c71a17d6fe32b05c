"""Table writes of the agents' batches, sent to the changelog straight through the producer.

Faust's own table write (``table[key] = value``, ``send_changelog``) costs several times what the
producer itself does per record: the value is serialized twice, a ``FutureMessage`` goes through
Faust's producer buffer task, and a callback writes the partition's persisted offset into RocksDB
for every record.  Our agents write many small records per batch and wait for all of them
before going on, so they queue them here instead: the local store is written at once, the
records are handed to the producer together, and each partition's persisted offset (where a
recovery from this local store resumes reading the changelog) is written once, after delivery.

The jackpot agent and the router write through here when the worker saves before each offset
commit (``Worker.save``), and wait for delivery there, so a commit never passes an input whose
table writes could be lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from jackpot.tables.deliveries import Deliveries


Record = tuple[int, bytes, "bytes | None"]  # (partition, key, value; None: a tombstone)


class Changelog:
    """One table's pending changelog records and the deliveries not yet confirmed."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._queued: list[Record] = []
        self._sent = Deliveries()
        self._delivered: dict[int, int] = {}  # partition -> highest offset delivered, not yet recorded

    def db(self, partition: int) -> Any:
        """The partition's local RocksDB."""
        return self.table.data._db_for_partition(partition)

    def write(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Write ``key`` in the local store now, and queue its changelog record."""
        self.store([(partition, key, value)])
        self.queue(partition, key, value)

    def store(self, records: list[Record]) -> None:
        """Write queued ``records`` in the local store (their callers queued them only)."""
        for partition, key, value in records:
            db = self.db(partition)
            if value is None:
                db.delete(key)
            else:
                db.put(key, value)

    def queue(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Queue a changelog record for a key the caller wrote locally itself."""
        self._queued.append((partition, key, value))

    def take(self) -> list[Record]:
        """The records queued and not sent, now the caller's to send (``send(records)``)."""
        queued, self._queued = self._queued, []
        return queued

    async def send(self, records: list[Record] | None = None) -> None:
        """Hand the queued records (or ``records``) to the producer, in order, without waiting
        for delivery (:meth:`flush` waits); record the persisted offsets delivered since."""
        self._record_delivered()
        queued = self.take() if records is None else records
        if not queued:
            return
        producer = self.table.app.producer
        topic = self.table.changelog_topic.get_topic_name()
        sent = []
        for partition, key, value in queued:
            fut = await producer.send(topic, key, value, partition, None, None)
            fut.add_done_callback(self._on_delivered)
            sent.append(fut)
        self._sent.add(sent)

    async def flush(self, records: list[Record] | None = None) -> None:
        """Send what is queued (or ``records``) and wait until the broker has every record sent."""
        await self.send(records)
        await self._sent.settle()
        self._record_delivered()

    def discard(self) -> None:
        """Forget what is queued and not sent (a batch given up); deliveries under way go on."""
        self._queued.clear()
        self._sent.forget()

    def _on_delivered(self, fut: asyncio.Future) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return  # whoever waits for it sees the error
        meta = fut.result()
        if meta.offset > self._delivered.get(meta.partition, -1):
            self._delivered[meta.partition] = meta.offset

    def _record_delivered(self) -> None:
        """Write the persisted offset (where a recovery from the local store resumes reading the
        changelog) of every partition with deliveries since the last time."""
        if not self._delivered:
            return
        topic = self.table.changelog_topic.get_topic_name()
        delivered, self._delivered = self._delivered, {}
        for partition, offset in delivered.items():
            self.table.data.set_persisted_offset(TP(topic, partition), offset)
