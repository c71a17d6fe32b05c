"""Small helpers around aiokafka for the processes that are not Faust workers."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from jackpot.settings import Settings


@asynccontextmanager
async def producer(settings: Settings, **overrides) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent, acks=all producer: no reordering or duplicates on retry."""
    opts = dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=None,
    )
    opts.update(overrides)
    prod = AIOKafkaProducer(**opts)
    await prod.start()
    try:
        yield prod
    finally:
        await prod.stop()


async def assign_all(consumer: AIOKafkaConsumer, topic: str, timeout: float = 30.0) -> list[TopicPartition]:
    """Assign every partition of ``topic`` to a group-less consumer.

    A fresh consumer knows no topic metadata yet; ask for it until the topic shows up
    (it may have been created a moment ago).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            break
        if loop.time() > deadline:
            raise TimeoutError(f"topic {topic} has no partitions (does it exist?)")
        consumer._client.add_topic(topic)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    return tps


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as Java's) gives ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def group_lag(bootstrap: str, group: str, topics: list[str]) -> tuple[int, int]:
    """(messages on ``topics`` not yet committed by consumer group ``group``, sum of its committed
    offsets): committed offsets against end offsets, the honest measure of "caught up"."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [tp for t in topics for tp in await assign_all(consumer, t)]
        ends = await consumer.end_offsets(tps)
        lag = done = 0
        for tp in tps:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(0, ends[tp] - offset)
            done += offset
        return lag, done
    finally:
        await consumer.stop()
        await admin.close()
