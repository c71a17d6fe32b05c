"""The agents' direct changelog writes (tables/changelog.py): local store at once, records to the
producer in order, persisted offsets written once per partition after delivery, never before."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from jackpot.tables.changelog import Changelog


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.futures: list[asyncio.Future] = []
        self.offsets: dict[int, int] = {}

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, partition, key, value))
        fut = asyncio.get_running_loop().create_future()
        self.futures.append((fut, partition))
        return fut

    def deliver(self) -> None:
        for fut, partition in self.futures:
            if not fut.done():
                offset = self.offsets.get(partition, -1) + 1
                self.offsets[partition] = offset
                fut.set_result(SimpleNamespace(partition=partition, offset=offset))


def table():
    dbs: dict[int, dict] = {}
    persisted: dict = {}

    class Db(dict):
        def put(self, k, v):
            self[k] = v

        def delete(self, k):
            self.pop(k, None)

    data = SimpleNamespace(_db_for_partition=lambda p: dbs.setdefault(p, Db()),
                           set_persisted_offset=lambda tp, off: persisted.__setitem__(tp.partition, off))
    producer = Producer()
    t = SimpleNamespace(data=data, app=SimpleNamespace(producer=producer),
                        changelog_topic=SimpleNamespace(get_topic_name=lambda: "app-t-changelog"))
    return t, dbs, persisted, producer


async def test_writes_are_local_at_once_and_reach_the_changelog_in_order_on_send():
    t, dbs, persisted, producer = table()
    log = Changelog(t)
    log.write(0, b"a", b"1")
    log.write(1, b"b", b"2")
    log.write(0, b"a", None)
    assert dbs[0] == {} and dbs[1] == {b"b": b"2"} and producer.sent == []
    await log.send()
    assert [(p, k, v) for _, p, k, v in producer.sent] == [(0, b"a", b"1"), (1, b"b", b"2"), (0, b"a", None)]
    assert persisted == {}  # nothing delivered yet: no offset may claim it


async def test_flush_waits_for_delivery_then_records_each_partitions_offset_once():
    t, dbs, persisted, producer = table()
    log = Changelog(t)
    for i in range(5):
        log.write(i % 2, f"k{i}".encode(), b"v")
    flushing = asyncio.create_task(log.flush())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not flushing.done()
    producer.deliver()
    await flushing
    assert persisted == {0: 2, 1: 1}


async def test_sent_without_waiting_records_offsets_at_the_next_send():
    t, dbs, persisted, producer = table()
    log = Changelog(t)
    log.write(3, b"p", b"v")
    await log.send()
    producer.deliver()
    await asyncio.sleep(0)
    log.write(3, b"q", b"v")
    await log.send()
    assert persisted == {3: 0}


async def test_a_discarded_batch_sends_nothing():
    t, dbs, persisted, producer = table()
    log = Changelog(t)
    log.write(0, b"a", b"1")
    log.discard()
    await log.flush()
    assert producer.sent == [] and persisted == {}
