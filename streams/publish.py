"""Publishing jackpot configurations to the compacted configs topic.

A config is validated by the engine before it is published, so a worker never sees
one that the engine would refuse; what goes on the topic is the normalised JSON of
the validated model, keyed by ``jackpot_id`` (compaction keeps the latest).

Publication itself (version, Back Office record, audit entry, outbox) is owned by
``jackpot.gateway.admin.publication``: the CLI and the admin API share it, so every
published jackpot is known to PostgreSQL before its config reaches a worker.
"""

from __future__ import annotations

import json

from jackpot.engine.config import Jackpot
from jackpot.settings import Settings


def normalise(doc: dict) -> tuple[str, bytes]:
    model = Jackpot.model_validate(doc)
    return str(model.jackpot_id), json.dumps(model.model_dump(mode="json"), sort_keys=True).encode()


async def publish_configs(settings: Settings, docs: list[dict], *, actor: str | None = None,
                          held: list[str] | None = None) -> list[str]:
    """Validate every doc first (all or nothing), apply the admin API's rules, record, audit and
    publish them; return the jackpot ids published (``held``: those whose math change waits for
    the next cycle). ``actor`` defaults to ``cli:<OS user name>``."""
    from jackpot.gateway.admin import publication

    return await publication.publish_configs(settings, docs, actor=actor or publication.cli_actor(), held=held)


def demo_portfolio() -> list[dict]:
    """The day-one portfolio, active, as config documents."""
    from jackpot.engine.catalog import day_one_jackpots

    docs = []
    for jp in day_one_jackpots():
        doc = jp.model_dump(mode="json")
        doc["status"] = "ACTIVE"
        docs.append(doc)
    return docs
