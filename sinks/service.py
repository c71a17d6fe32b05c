"""The sinks: ledger entries and engine events into PostgreSQL, live values into Redis.

Each sink is a plain consumer group over its topics (sinks/consumer.py), so the sinks can run in
any process: inside every worker (the default: one process to deploy), or on their own with
``jackpot sinks`` and ``JACKPOT_WORKER_SINKS=false`` on the workers. On their own they never take
CPU from the agents, a slow or stopped database never shares a process with the engine, and they
scale apart from the workers (N sink processes share each sink's partitions).

What a sink cannot use (a record that does not decode) goes to the dead-letter topic, and its
outage alerts go to ``jackpot-events``, through ``send`` of whichever process hosts it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from redis.exceptions import RedisError

from jackpot import metrics as M
from jackpot.engine.events import EngineEvent
from jackpot.settings import Settings
from jackpot.sinks.alerts import OutageAlerts
from jackpot.sinks.audit import require_key
from jackpot.sinks.checkpoints import Checkpointer
from jackpot.sinks.consumer import SinkLoop
from jackpot.sinks.campaign_log import CampaignLogWriter, entry_key
from jackpot.sinks.events import EventSink, from_avro
from jackpot.sinks.ledger import LedgerWriter, write_with_retry
from jackpot.sinks.live import LiveValues, warn_changes_from_event
from jackpot.streams import topics as T
from jackpot.streams.batches import LEDGER, Framing
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.deadletter import dead_letter, encode_dead_letter
from jackpot.streams.outputs import encode as encode_event

log = logging.getLogger(__name__)

# (logical topic name, key, value): the hosting process's producer
Send = Callable[[str, bytes, bytes], Awaitable[Any]]

# Full-fidelity engine events (spec events are also on their own topics, in their spec
# schema, for outside consumers) and the pool values.
EVENT_SINK_TOPICS = (T.ENGINE_EVENTS, T.AUDIT, T.POOL_UPDATED)
LIVE_SINK_TOPICS = (T.POOL_UPDATED, T.JACKPOT_WON, T.WARN_THRESHOLD, T.JACKPOT_RESEEDED, T.STATE_CHANGED,
                    T.ENGINE_EVENTS, T.ACTIVE_PLAYERS)


DEAD_LETTER_ATTEMPTS = 4
DEAD_LETTER_BACKOFF_S = 0.2  # then 0.4, 0.8: about 1.4 s at most, far below the session timeout


async def send_dead_letter(send: Send, stage: str, msg: Any, exc: Exception, value: bytes | None = None) -> bool:
    """Dead-letter a message (an agent's ``event.message`` or a sink's record), or, with
    ``value``, the one item of it that is bad; True when it was sent.

    It runs inside the agents' error paths, so it never raises (cancellation aside): a send
    that fails is retried with backoff, and one that still fails is logged with its source
    coordinates and counted in ``jackpot_dead_letters_failed_total``; the agent goes on.
    """
    M.DEAD_LETTERS.labels(stage).inc()
    where = {"stage": stage, "source_topic": msg.topic, "source_partition": msg.partition,
             "source_offset": msg.offset, "reason": str(exc)[:500]}
    try:
        record = dead_letter(stage, msg.topic, msg.partition, msg.offset, msg.key,
                             msg.value if value is None else value, msg.headers, exc)
        wire = encode_dead_letter(record)
    except Exception as error:  # a bug here must not take the agent down with the bad message
        return _lost(stage, where, error)
    for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
        try:
            await send(T.DEAD_LETTERS.name, record["key"], wire)
            return True
        except Exception as error:
            failure = error
            log.warning("dead letter send failed", extra=where | {"attempt": attempt, "error": repr(error)})
        if attempt < DEAD_LETTER_ATTEMPTS:
            await asyncio.sleep(DEAD_LETTER_BACKOFF_S * 2 ** (attempt - 1))
    return _lost(stage, where, failure)


def _lost(stage: str, where: dict, error: Exception) -> bool:
    M.DEAD_LETTERS_FAILED.labels(stage).inc()
    log.error("dead letter lost: could not be produced", extra=where | {"error": repr(error)})
    return False


async def unbatched(send: Send, codec: Any, stage: str, msg: Any, framing: Framing, name: str,
                    record: dict) -> list[dict]:
    """The items of a decoded batch message (or the lone item), dead-lettering any that does
    not decode on its own."""
    return [item for _, item in await unbatched_items(send, codec, stage, msg, framing, name, record)]


async def unbatched_items(send: Send, codec: Any, stage: str, msg: Any, framing: Framing, name: str,
                          record: dict) -> list[tuple[bytes | None, dict]]:
    """``unbatched`` with each item's own bytes (None for a lone item message), so a sink can
    dead-letter exactly the item PostgreSQL refuses (``dead_letter_rows``)."""
    items = []
    for raw, item in framing.unpack(codec, name, record):
        if isinstance(item, DecodeError):
            await send_dead_letter(send, stage, msg, item, value=raw)
        else:
            items.append((raw, item))
    return items


def dead_letter_rows(send: Send, stage: str, sources: list[tuple[Any, bytes | None]]):
    """``on_bad`` for ``write_with_retry``: the row at ``index`` of the batch, which PostgreSQL
    refused as bad data, is dead-lettered as the record (``sources[index][0]``) or the one item of
    it (``sources[index][1]``) it came from, with PostgreSQL's reason; the sink goes on."""
    async def on_bad(index: int, exc: Exception) -> None:
        msg, raw = sources[index]
        await send_dead_letter(send, stage, msg, exc, value=raw)

    return on_bad


class Sinks:
    """The three sink loops and the writers they share; ``jackpot_ids`` lists the configured
    jackpots (a Redis rebuild derives each one's live values from PostgreSQL)."""

    def __init__(self, settings: Settings, send: Send, jackpot_ids: Callable[[], Iterable[str]]) -> None:
        self.settings = settings
        self.send = send
        self.jackpot_ids = jackpot_ids
        self.codec = catalog()
        self.ledger = LedgerWriter(settings.database_url)
        self.events = EventSink(settings.database_url, audit_key=require_key(settings))
        self.campaign_log = CampaignLogWriter(settings.database_url)
        self.checkpointer = Checkpointer(settings, send)  # signed checkpoints of the audit chain's head
        self.live = LiveValues(settings.redis_url, namespace=settings.topic_prefix)
        self.ledger_alerts = OutageAlerts("ledger", self.publish_alert)
        self.events_alerts = OutageAlerts("events", self.publish_alert)
        app_id = settings.app_id
        self.loops = [
            SinkLoop("ledger", settings, f"{app_id}-ledger-sink", [settings.topic(T.LEDGER.name)], self.write_ledger),
            SinkLoop("live", settings, f"{app_id}-live-sink", [settings.topic(t.name) for t in LIVE_SINK_TOPICS],
                     self.write_live, max_records=1000),
            SinkLoop("events", settings, f"{app_id}-event-sink", [settings.topic(t.name) for t in EVENT_SINK_TOPICS],
                     self.write_events),
            SinkLoop("campaign-log", settings, f"{app_id}-campaign-log-sink", [settings.topic(T.CAMPAIGN_LOG.name)],
                     self.write_campaign_log),
        ]

    async def start(self) -> None:
        for loop in self.loops:
            await loop.start()
        self.checkpointer.start()

    async def stop(self) -> None:
        await asyncio.gather(*(loop.stop() for loop in self.loops))  # each bounded in time
        await self.checkpointer.stop()
        await self.ledger.close()
        await self.events.close()
        await self.campaign_log.close()
        await self.live.close()

    async def dead(self, stage: str, record: Any, exc: Exception, value: bytes | None = None) -> None:
        await send_dead_letter(self.send, stage, record, exc, value)

    async def _decode_records(self, records, stage: str, expect=None) -> list[tuple[str, dict]]:
        """Decode a sink batch; what does not decode goes to the dead-letter topic."""
        out = []
        for r in records:
            try:
                out.append(self.codec.decode(r.value, expect=expect))
            except DecodeError as exc:
                await self.dead(stage, r, exc)
        return out

    async def write_ledger(self, records) -> None:
        """Ledger entries -> PostgreSQL, batched and idempotent; retried until it takes them."""
        entries, sources = [], []
        for r in records:
            try:
                name, rec = LEDGER.decode(self.codec, r.value)
            except DecodeError as exc:
                await self.dead("ledger-sink", r, exc)
                continue
            for raw, item in await unbatched_items(self.send, self.codec, "ledger-sink", r, LEDGER, name, rec):
                entries.append(item)
                sources.append((r, raw))
        await write_with_retry(self.ledger, entries, on_outage=self.ledger_alerts.on_outage,
                               on_recovery=self.ledger_alerts.on_recovery,
                               on_bad=dead_letter_rows(self.send, "ledger-sink", sources))

    async def write_campaign_log(self, records) -> None:
        """Campaign fires, decisions and deliveries -> PostgreSQL (the admin API's delivery log)."""
        entries, sources = [], []
        for r in records:
            try:
                entry = orjson.loads(r.value)
                entry_key(entry)
                if not isinstance(entry.get("rule_id"), str):
                    raise ValueError("a campaign log entry names its rule")
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                await self.dead("campaign-log-sink", r, exc)
                continue
            entries.append(entry)
            sources.append((r, None))
        await write_with_retry(self.campaign_log, entries, on_bad=dead_letter_rows(self.send, "campaign-log-sink", sources))

    async def write_events(self, records) -> None:
        """Every outbound engine event -> its PostgreSQL tables and the hash-chained audit trail."""
        events, sources = [], []
        for r in records:
            try:
                name, rec = self.codec.decode(r.value)
            except DecodeError as exc:
                await self.dead("event-sink", r, exc)
                continue
            events.append(from_avro(name, rec))
            sources.append((r, None))
        await write_with_retry(self.events, events, on_outage=self.events_alerts.on_outage,
                               on_recovery=self.events_alerts.on_recovery,
                               on_bad=dead_letter_rows(self.send, "event-sink", sources))

    async def rebuild_live(self) -> None:
        """Redis came back empty (or is new): derive every live value from PostgreSQL first, then
        carry on with the topics (a newer event still wins by its sequence)."""
        import asyncpg

        from jackpot.sinks.rebuild import as_events, live_values

        conn = await asyncpg.connect(self.settings.database_url)
        try:
            values = await live_values(conn, sorted(self.jackpot_ids()))
        finally:
            await conn.close()
        written = await self.live.rebuild(as_events(values), int(time.time() * 1000))
        log.warning("live values rebuilt from PostgreSQL", extra={"written": written})

    async def publish_alert(self, event: dict) -> None:
        """A sink outage or recovery alert, as an engine event on jackpot-events (no database needed)."""
        for wire in encode_event(EngineEvent.from_dict(event)):
            await self.send(wire.topic.name, event.get("jackpot_id", "").encode(), wire.value)

    async def write_live(self, records) -> None:
        """Public live values -> Redis: pools (compare-and-set on sequence, so replays never go
        back), recent winners, warn badges and jackpot states."""
        pools, wins, warns, states, chasing = [], [], [], [], []
        for name, ev in await self._decode_records(records, "live-sink"):
            if name == "ActivePlayers":
                chasing.append(ev)
                continue
            if name == "JackpotEvent":
                if ev["kind"] != "WarnStateChanged":
                    continue
                name, ev = ev["kind"], {"jackpot_id": ev["jackpot_id"], **json.loads(ev["payload_json"])}
            if name == "PoolUpdated":
                pools.append(ev)
            elif name == "JackpotWon":
                wins.append(ev)
            elif name == "JackpotStateChanged":
                states.append(ev)
            warns += warn_changes_from_event(name, ev)
        while True:
            try:
                if await self.live.needs_rebuild():
                    await self.rebuild_live()
                await self.live.apply_pool_updates(pools)
                await self.live.apply_wins(wins)
                await self.live.apply_warn_states(warns)
                await self.live.apply_state_changes(states)
                await self.live.apply_active_players(chasing)
                return
            except (OSError, ConnectionError, RedisError) as exc:
                log.error("redis unavailable, retrying", extra={"error": str(exc)})
                await asyncio.sleep(1.0)


async def serve(settings: Settings) -> None:
    """``jackpot sinks``: the sinks on their own, until SIGTERM/SIGINT; a sink that fails ends
    the process (non-zero), so its supervisor restarts it and it resumes from its commits."""
    import signal

    from jackpot.sinks.migrate import migrate
    from jackpot.streams.configs import ConfigView
    from jackpot.streams.kafka import producer
    from jackpot.streams.pipeline import Pipeline
    from jackpot.streams.topics import ensure_topics

    require_key(settings)  # production refuses a missing or weak audit key before touching anything
    await ensure_topics(settings)
    await migrate(settings.database_url)
    configs = ConfigView(settings, settings.topic(T.CONFIGS.name), Pipeline().compile)
    started = asyncio.Event()
    health = M.HealthServer(ready=lambda: started.is_set(), host=settings.worker_web_host,
                            port=settings.sinks_web_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await health.start()
    async with producer(settings, compression_type="lz4") as prod:
        async def send(name: str, key: bytes, value: bytes) -> None:
            await prod.send_and_wait(settings.topic(name), key=key, value=value)

        sinks = Sinks(settings, send, lambda: configs.compiled)
        await configs.start()
        try:
            await configs.ready.wait()  # a Redis rebuild needs every configured jackpot
            await sinks.start()
            started.set()
            log.info("sinks running", extra={"sinks": [s.name for s in sinks.loops]})
            stopping = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopping, *(s.task for s in sinks.loops)],
                                         return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            for task in done - {stopping}:
                task.result()  # a sink loop ended: raise what ended it
                raise RuntimeError(f"sink loop {task.get_name()} ended")
        finally:
            started.clear()
            await sinks.stop()
            await configs.stop()
            await health.stop()
