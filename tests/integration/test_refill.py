"""Reading a hole back from the real broker: exactly the missing offsets, in order."""

from __future__ import annotations

import pytest

from jackpot.streams.kafka import client_options, producer
from jackpot.streams.refill import HoleReader

pytestmark = pytest.mark.integration


async def test_a_range_of_a_partition_is_read_back_exactly(settings):
    topic = settings.topic("bets")
    async with producer(settings) as prod:
        for i in range(12):
            await prod.send_and_wait(topic, key=b"k", value=f"m{i}".encode(), partition=3)
    reader = HoleReader(settings, timeout_s=5)
    try:
        got = await reader.read(topic, 3, 4, 9)
        assert [(e.message.offset, e.value, e.message.partition) for e in got] == [
            (o, f"m{o}".encode(), 3) for o in range(4, 9)]
        assert got[0].message.tp.topic == topic and 1e9 < got[0].message.timestamp < 1e11  # seconds
        assert await reader.read(topic, 3, 10, 20) is None  # not all in the log (yet): the caller falls back
        assert [e.message.offset for e in await reader.read(topic, 3, 0, 2)] == [0, 1]  # usable again
    finally:
        await reader.close()


async def test_the_resume_offset_is_the_groups_commit_else_the_log_start(settings):
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

    topic = settings.topic("bets")
    async with producer(settings) as prod:
        for i in range(10):
            await prod.send_and_wait(topic, key=b"k", value=b"m", partition=5)
    group = f"{settings.app_id}-resume"
    tp = TopicPartition(topic, 5)
    reader = HoleReader(settings, timeout_s=5)
    try:
        assert await reader.resume_offset(group, topic, 5) == 0  # never committed: the log start
        admin = AIOKafkaAdminClient(**client_options(settings))
        await admin.start()
        try:
            await admin.delete_records({tp: RecordsToDelete(before_offset=3)})
        finally:
            await admin.close()
        assert await reader.resume_offset(group, topic, 5) == 3  # the log start moved
        committer = AIOKafkaConsumer(**client_options(settings), group_id=group,
                                     enable_auto_commit=False)
        await committer.start()
        try:
            committer.assign([tp])
            await committer.commit({tp: 7})
        finally:
            await committer.stop()
        assert await reader.resume_offset(group, topic, 5) == 7  # the group's commit wins
    finally:
        await reader.close()
