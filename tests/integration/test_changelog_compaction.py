"""Changelogs compact while young (tables/store.py CHANGELOG_CONFIG), and a changelog created with
older settings is given the declared ones at the next worker start (streams/topics.align_configs).

Against the real broker: with Kafka's defaults nothing younger than a 7-day segment is ever
compacted, so a recovery replayed every write since the first."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from jackpot.streams.kafka import client_options, producer, read_to_end
from jackpot.streams.topics import align_configs
from jackpot.tables.betids import TOMBSTONES_KEPT_MS
from jackpot.tables.store import changelog_config

from .conftest import wait_for

pytestmark = pytest.mark.integration


async def _own_settings(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    [resp] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    [res] = resp.to_object()["resources"]
    return {e["config_names"]: e["config_value"] for e in res["config_entries"] if e["config_source"] == 1}


async def _records(settings, topic: str) -> int:
    return len(await read_to_end(settings, topic, timeout=60, complete=True))


async def test_an_old_changelog_gets_the_declared_settings_and_keeps_its_own(settings):
    name = f"{settings.app_id}-align-{uuid.uuid4().hex[:6]}-changelog"
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"cleanup.policy": "compact",
                                                                         "max.message.bytes": "2000000"})])
        wanted = changelog_config()

        async def aligned():  # a topic created a moment ago is described once the broker knows it
            return await align_configs(settings, {name: wanted}) or None

        assert await wait_for(aligned, timeout=30, what="the settings aligned") == [name]
        assert await align_configs(settings, {name: wanted}) == []  # already aligned: left alone
        own = await _own_settings(admin, name)
        assert own == {**wanted, "max.message.bytes": "2000000"}
    finally:
        await admin.delete_topics([name])
        await admin.close()


@pytest.mark.timeout(240)
async def test_a_young_changelog_compacts_to_about_one_record_per_key(settings):
    """The production settings with the clock sped up (segments roll every second, compaction
    lag one second): 3,000 writes over 50 keys shrink to about one record per key."""
    name = f"{settings.app_id}-compact-{uuid.uuid4().hex[:6]}-changelog"
    config = changelog_config(**{"segment.ms": "1000", "max.compaction.lag.ms": "1000"})
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs=config)])
        async with producer(settings, linger_ms=5) as prod:
            for round_ in range(60):
                await asyncio.gather(*[await prod.send(name, key=f"k{k}".encode(), value=f"{round_}".encode())
                                       for k in range(50)])
                await asyncio.sleep(0.05)
            # later writes roll the segments that hold the earlier ones, so the cleaner may take them
            for _ in range(30):
                await asyncio.sleep(1.0)
                await prod.send_and_wait(name, key=b"tick", value=b"x")

        async def compacted():
            n = await _records(settings, name)
            return n if n <= 200 else None

        # the broker's cleaner wakes every 15 s by default: allow a few rounds
        assert await wait_for(compacted, timeout=180, interval=5.0, what="the changelog compacted") <= 200
    finally:
        await admin.delete_topics([name])
        await admin.close()


def test_every_table_of_the_worker_declares_the_compacting_changelog(settings):
    from jackpot.streams.worker import build_worker

    worker = build_worker(settings)
    configs = {t.name: dict(t.changelog_topic.config or {}) for t in worker.app.tables.values()}
    assert set(configs) == {"jackpot-state", "jackpot-activity", "bet-ids", "players"}
    # the bet ids keep tombstones briefly: a missed one only leaves a duplicate pack (tables/betids.py)
    own = {"bet-ids": {"delete.retention.ms": str(TOMBSTONES_KEPT_MS)}}
    for name, config in configs.items():
        expected = changelog_config(**own.get(name, {}))
        assert {k: config[k] for k in expected} == expected, name
