"""Shared helpers for integration tests: configs, topic readers, HTTP waits."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp

from jackpot.settings import Settings
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import read_to_end


def one_level_config(jackpot_id: str | None = None, **over) -> dict:
    """A one-jackpot, one-level config with the specification's worked-example numbers."""
    doc = {
        "jackpot_id": jackpot_id or str(uuid.uuid4()),
        "name": "Skeleton Fortune",
        "internal_name": "skeleton-fortune",
        "type": "PERSISTENT",
        "status": "ACTIVE",
        "brands": ["brand-royal"],
        "currencies": ["EUR"],
        "games": [{"game_id": "starburst", "coefficient": "1.2"}],
        "contribution_rate": "0.015",
        "house_cut": "0.10",
        "compliance_profile": {"jurisdiction_code": "MT", "allowed_distribution_modes": [1]},
        "levels": [
            {
                "level_id": str(uuid.uuid4()),
                "name": "Grand",
                "display_order": 1,
                "contribution_split": "1",
                "seed_from": "1000",
                "seed_to": "1000",
                "win_from": "5000",
                "win_to": "6000",
                "win_max": "10000",
            }
        ],
    }
    doc.update(over)
    return doc


async def read_topic(settings: Settings, topic: str, key: bytes | None = None,
                     timeout: float = 5.0) -> list:
    """Every record of ``topic`` (optionally only ``key``), from the beginning to the end now."""
    return await read_to_end(settings.kafka_bootstrap_servers, topic, key, timeout)


async def read_events(settings: Settings, topic: str, key: bytes | None = None) -> list[dict]:
    codec = catalog()
    return [codec.decode(m.value)[1] for m in await read_topic(settings, topic, key)]


async def table_value(settings: Settings, table: str, key: bytes) -> dict | None:
    """The latest value of a Faust table key, read from its changelog topic."""
    msgs = await read_topic(settings, f"{settings.app_id}-{table}-changelog", key)
    return json.loads(msgs[-1].value) if msgs else None


async def http_ready(url: str, timeout: float = 90.0, procs=()) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            for p in procs:
                assert p.alive(), f"{p.name} exited early:\n{p.log_tail()}"
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"{url} not ready after {timeout}s")


async def send_command(settings: Settings, jackpot_id: str, **fields) -> dict:
    """Produce one OperatorCommand on the jackpot's partition; return the record sent."""
    import datetime as dt

    from jackpot.streams.kafka import producer

    record = {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
              "jackpot_id": jackpot_id, "actor": "operator-1", "reason": "test", **fields}
    async with producer(settings) as prod:
        await prod.send_and_wait(settings.topic("operator-commands"), key=jackpot_id.encode(),
                                 value=catalog().encode("OperatorCommand", record))
    return record


async def read_engine_events(settings: Settings, key: bytes, topic: str = "jackpot-events",
                             kinds: tuple[str, ...] | None = None) -> list[dict]:
    """The full engine events (``JackpotEvent`` envelopes) of one jackpot on ``topic``
    (``jackpot-events`` or ``audit-events``): ``{"kind", "event_id", "payload"}`` each, in order."""
    out = []
    for ev in await read_events(settings, settings.topic(topic), key):
        if kinds is None or ev["kind"] in kinds:
            out.append({"kind": ev["kind"], "event_id": str(ev["event_id"]),
                        "payload": json.loads(ev["payload_json"])})
    return out


async def latest_pools(settings: Settings, key: bytes) -> dict[tuple[str, str], dict]:
    """The latest PoolUpdated of each (level_id, currency) pool of one jackpot."""
    latest: dict[tuple[str, str], dict] = {}
    for u in await read_events(settings, settings.topic("pool-updated"), key):
        k = (u["level_id"], u["currency"])
        if k not in latest or u["sequence"] >= latest[k]["sequence"]:
            latest[k] = u
    return latest
