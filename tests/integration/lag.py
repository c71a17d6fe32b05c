"""Consumer-group lag on the real broker: the honest "drained" signal for tests under load.

"Nothing moved for a minute" is not drained on a busy machine, where a restarted worker
can take that long to import and recover; committed offsets against end offsets are.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from jackpot.settings import Settings
from jackpot.streams.kafka import assign_all


async def group_lag(settings: Settings, group: str, topics: list[str]) -> tuple[int, int]:
    """(messages not yet committed by ``group`` on ``topics``, sum of its committed offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
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

