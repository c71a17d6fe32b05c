"""Publishing jackpot configurations to the compacted configs topic.

A config is validated by the engine before it is published, so a worker never sees
one that the engine would refuse; what goes on the topic is the normalised JSON of
the validated model, keyed by ``jackpot_id`` (compaction keeps the latest).
"""

from __future__ import annotations

import json

from jackpot.engine.config import Jackpot
from jackpot.settings import Settings
from jackpot.streams.kafka import producer
from jackpot.streams.topics import CONFIGS, ensure_topics


def normalise(doc: dict) -> tuple[str, bytes]:
    model = Jackpot.model_validate(doc)
    return str(model.jackpot_id), json.dumps(model.model_dump(mode="json"), sort_keys=True).encode()


async def publish_configs(settings: Settings, docs: list[dict]) -> list[str]:
    """Validate every doc first (all or nothing), then publish; return the jackpot ids."""
    normalised = [normalise(d) for d in docs]
    await ensure_topics(settings)
    async with producer(settings) as prod:
        for jackpot_id, value in normalised:
            await prod.send_and_wait(settings.topic(CONFIGS.name), key=jackpot_id.encode(), value=value)
    return [jackpot_id for jackpot_id, _ in normalised]


def demo_portfolio() -> list[dict]:
    """The day-one portfolio, active, as config documents."""
    from jackpot.engine.catalog import day_one_jackpots

    docs = []
    for jp in day_one_jackpots():
        doc = jp.model_dump(mode="json")
        doc["status"] = "ACTIVE"
        docs.append(doc)
    return docs
