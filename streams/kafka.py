"""Small helpers around aiokafka for the processes that are not Faust workers, and the one place
every Kafka client (these, Faust's, the gateway's, the sinks') takes its connection options from."""

from __future__ import annotations

import asyncio
import logging
import ssl
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from jackpot.settings import Settings

log = logging.getLogger(__name__)


class InsecureBusError(RuntimeError):
    """Production settings that would connect to Kafka without authentication or encryption."""


_warned_plaintext = False


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS for the bus: the broker's certificate checked against the configured CA (or the system
    CAs), host name included."""
    ctx = ssl.create_default_context(cafile=settings.kafka_ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def check_bus_security(settings: Settings) -> None:
    """Refuse (production) or warn about (development) a bus anyone who reaches it may use."""
    global _warned_plaintext
    if settings.kafka_security_protocol == "PLAINTEXT":
        if settings.production:
            raise InsecureBusError(
                "JACKPOT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused in production: anyone who reaches "
                "the broker could publish operator commands; set SASL_SSL with JACKPOT_KAFKA_USERNAME, "
                "JACKPOT_KAFKA_PASSWORD and JACKPOT_KAFKA_CA_FILE (README: Security)")
        if not _warned_plaintext:
            _warned_plaintext = True
            log.warning("Kafka bus is PLAINTEXT (unauthenticated): for development only")
        return
    if not settings.kafka_username or not settings.kafka_password:
        raise InsecureBusError(f"JACKPOT_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs "
                               "JACKPOT_KAFKA_USERNAME and JACKPOT_KAFKA_PASSWORD")


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection and security options for any aiokafka client (producer, consumer, admin)."""
    check_bus_security(settings)
    opts: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers,
                            "security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol == "SASL_SSL":
        opts.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                    sasl_plain_username=settings.kafka_username,
                    sasl_plain_password=settings.kafka_password,
                    ssl_context=ssl_context(settings))
    return opts


def faust_credentials(settings: Settings):
    """The same security for the Faust app's own clients (None: PLAINTEXT)."""
    import faust

    check_bus_security(settings)
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    return faust.SASLCredentials(username=settings.kafka_username, password=settings.kafka_password,
                                 mechanism=settings.kafka_sasl_mechanism, ssl_context=ssl_context(settings))


@asynccontextmanager
async def producer(settings: Settings, **overrides) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent, acks=all producer: no reordering or duplicates on retry."""
    opts = dict(
        **client_options(settings),
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


async def committed_and_end(settings: Settings, group: str, topics: list[str]) -> dict[TopicPartition, tuple[int | None, int]]:
    """Per partition of ``topics``: (offset consumer group ``group`` has committed, or None, end offset)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(settings))
    consumer = AIOKafkaConsumer(**client_options(settings))
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [tp for t in topics for tp in await assign_all(consumer, t)]
        ends = await consumer.end_offsets(tps)
        out = {}
        for tp in tps:
            meta = committed.get(tp)
            out[tp] = (meta.offset if meta is not None and meta.offset >= 0 else None, ends[tp])
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def group_lag(settings: Settings, group: str, topics: list[str]) -> tuple[int, int]:
    """(messages on ``topics`` not yet committed by consumer group ``group``, sum of its committed
    offsets): committed offsets against end offsets, the honest measure of "caught up"."""
    lag = done = 0
    for committed, end in (await committed_and_end(settings, group, topics)).values():
        lag += max(0, end - (committed or 0))
        done += committed or 0
    return lag, done


class CatchUp:
    """Whether a consumer group has committed everything that was on its topics at the previous
    look.  The jackpots' input log gets a clock tick per partition every second, so its end moves
    by itself: "committed equals end" at one instant is a matter of luck there; "committed has
    reached where the end was one look ago" is not."""

    def __init__(self, settings: Settings, group: str, topics: list[str]) -> None:
        self.settings, self.group, self.topics = settings, group, topics
        self.ends: dict[TopicPartition, int] | None = None

    async def look(self) -> dict[TopicPartition, tuple[int, int]]:
        """Per partition: (committed offset, 0 if none; the end it must reach: the previous look's,
        or this look's at the first)."""
        offsets = await committed_and_end(self.settings, self.group, self.topics)
        before = self.ends if self.ends is not None else {tp: end for tp, (_, end) in offsets.items()}
        self.ends = {tp: end for tp, (_, end) in offsets.items()}
        return {tp: (committed or 0, before.get(tp, end)) for tp, (committed, end) in offsets.items()}


async def group_members(settings: Settings, group: str) -> tuple[str, int]:
    """(state, member count) of consumer group ``group``: "Stable" once a rebalance has settled."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        [desc] = response.to_object()["groups"]
        return desc["state"], len(desc["members"])
    finally:
        await admin.close()


async def read_to_end(settings: Settings, topic: str, key: bytes | None = None, timeout: float | None = None,
                      complete: bool = False) -> list:
    """Every record of ``topic`` (only ``key``'s when given), from the beginning to the end as it
    is now; ``timeout`` bounds the wait (None: until the end offsets are reached), after which
    what was read so far is returned, or TimeoutError raised when ``complete`` is asked for."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await assign_all(consumer, topic)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out = []
        remaining = {tp for tp in tps if end[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while remaining and (deadline is None or loop.time() < deadline):
            batches = await consumer.getmany(*remaining, timeout_ms=200, max_records=5000)
            for msgs in batches.values():
                out.extend(m for m in msgs if key is None or m.key == key)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        if remaining and complete:
            raise TimeoutError(f"{topic}: end not reached in {timeout}s ({len(out)} records read)")
        return out
    finally:
        await consumer.stop()
