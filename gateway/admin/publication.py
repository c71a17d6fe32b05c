"""Publishing a jackpot configuration, and the outbox every record bound for Kafka goes through.

One owner of jackpot identity: whoever publishes a configuration (the admin API's activation,
applied changes, archive and scheduler; ``jackpot config apply``; the adoption of a config found
only on the configs topic) calls :func:`publish_config`, which in the caller's PostgreSQL
transaction records the version (with its actor and hash), creates or updates the jackpot's Back
Office record when the publisher is not the admin API, appends an audit entry, and queues the
Kafka record in the ``outbox`` table. Operator commands are queued the same way (:func:`enqueue`).

Nothing is sent before that transaction commits. :class:`Outbox` then sends the unsent rows in id
order (one sender at a time, under an advisory lock, so a later version of a config can never be
overtaken by an earlier one) and marks them sent; the admin API runs it after each commit and as
a relay in the background, the CLI drains it before it exits. A row sent but not marked (a crash
in between) is sent again: configs are idempotent on the compacted topic, and the jackpot agent
deduplicates commands by their id.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from jackpot.engine import succession
from jackpot.sinks import audit
from jackpot.sinks.events import config_hash
from jackpot.streams.publish import normalise

from .problems import Problem

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the outbox senders ("outbox" in ASCII)
SENDER_LOCK = 0x6F7574626F78
BATCH = 500
SENT_KEPT_S = 7 * 86400  # sent rows are kept a week (what was sent when), then deleted by the relay
BUS_ACTOR = "bus"
BACK_OFFICE_STATUSES = {"DRAFT", "ACTIVE", "PAUSED", "ARCHIVED"}


def cli_actor() -> str:
    """The default actor of ``jackpot config apply``: ``cli:<OS user name>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (a container without passwd entry)
        user = "unknown"
    return f"cli:{user}"


@dataclass(frozen=True)
class Published:
    jackpot_id: str
    version: int
    config_hash: str
    new_version: bool
    outbox_id: int | None


# --------------------------------------------------------------------------- outbox
def _value(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)  # None: a tombstone (a deleted campaign rule)


MAX_RECORD_BYTES = 900_000  # under the producer's and the broker's 1 MiB message limit, with room for headers


async def enqueue(conn: asyncpg.Connection, *, kind: str, ref: str, topic: str, key: bytes, value: bytes | None) -> int:
    """Queue one Kafka record in the caller's transaction; it is sent once that commits.

    A record the broker would refuse (over ``MAX_RECORD_BYTES``) is refused here, with the
    request that made it: queued, it could never be sent, and every later row waits behind it
    (rows go out in order), pauses and shutdowns included."""
    if value is not None and len(value) + len(key) > MAX_RECORD_BYTES:
        raise Problem(422, "too-large", f"this {kind} would be a {len(value):,}-byte message; the bus takes at most "
                      f"{MAX_RECORD_BYTES:,} (fewer games, excluded players or texts)")
    return await conn.fetchval(
        "INSERT INTO outbox (kind, ref, topic, key, value) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        kind, ref, topic, key, value)


class Outbox:
    """Sends committed outbox rows, in id order, marking each sent."""

    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, *, send_timeout_s: float = 10.0) -> None:
        self.pool = pool
        self.producer = producer
        self.send_timeout_s = send_timeout_s

    async def flush(self, upto: int | None = None) -> int:
        """Send every unsent row (up to id ``upto``) in id order; return how many were sent.

        Raises the broker's error (or ``asyncio.TimeoutError``) when a row is not confirmed in time;
        the rows confirmed before it stay marked sent, the rest wait for the next flush.
        """
        sent = 0
        while True:
            n, error, more = await self._flush_batch(upto)
            sent += n
            if error is not None:
                raise error
            if not more:
                return sent

    async def _flush_batch(self, upto: int | None) -> tuple[int, BaseException | None, bool]:
        sent, error = 0, None
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SENDER_LOCK)
            rows = await conn.fetch(
                "SELECT id, topic, key, value FROM outbox WHERE sent_at IS NULL AND ($1::bigint IS NULL OR id <= $1) "
                "ORDER BY id LIMIT $2", upto, BATCH)
            for r in rows:
                try:
                    await asyncio.wait_for(self.producer.send_and_wait(r["topic"], key=bytes(r["key"]),
                                                                       value=_value(r["value"])), self.send_timeout_s)
                except (asyncio.TimeoutError, KafkaError) as exc:
                    error = exc
                    break
                await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = $1", r["id"])
                sent += 1
        return sent, error, error is None and len(rows) == BATCH

    async def is_sent(self, outbox_id: int) -> bool:
        return bool(await self.pool.fetchval("SELECT sent_at IS NOT NULL FROM outbox WHERE id = $1", outbox_id))

    async def kick(self) -> None:
        """Flush now if the broker answers; otherwise leave the rows to the relay (logged, not raised)."""
        try:
            await self.flush()
        except (asyncio.TimeoutError, KafkaError) as exc:
            log.warning("outbox not flushed; the relay retries", extra={"error": repr(exc)})

    async def prune(self) -> int:
        """Delete rows sent longer ago than ``SENT_KEPT_S`` (the audit trail keeps what matters)."""
        done = await self.pool.execute(
            "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => $1)", float(SENT_KEPT_S))
        return int(done.split()[-1])

    async def relay(self, interval_s: float) -> None:
        """Background task: send rows left unsent (broker down at commit time, or a crash before sending)."""
        last_prune = 0.0
        while True:
            try:
                n = await self.flush()
                if n:
                    log.info("outbox relay sent rows", extra={"rows": n})
                if time.monotonic() - last_prune > 3600:
                    await self.prune()
                    last_prune = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay: broker not confirming; retrying", extra={"error": repr(exc)})
            await asyncio.sleep(interval_s)


# --------------------------------------------------------------------------- configurations
async def record_version(conn: asyncpg.Connection, doc: dict[str, Any], actor: str) -> tuple[int, str, bool]:
    """Record a validated config as the next version of its jackpot, or find the version that has
    exactly it; returns (version, config hash, whether it is new). Versions are numbered under a
    row lock on ``jackpot_configs``, so concurrent publishers cannot collide."""
    jackpot_id = str(doc["jackpot_id"])
    h = config_hash(doc)
    await conn.execute(
        "INSERT INTO jackpot_configs (jackpot_id, name, current_version) VALUES ($1, $2, 0) "
        "ON CONFLICT (jackpot_id) DO NOTHING", jackpot_id, str(doc.get("name", "")))
    current = await conn.fetchval(
        "SELECT current_version FROM jackpot_configs WHERE jackpot_id = $1 FOR UPDATE", jackpot_id)
    existing = await conn.fetchval(
        "SELECT version FROM jackpot_config_versions WHERE jackpot_id = $1 AND config_hash = $2", jackpot_id, h)
    version = existing if existing is not None else current + 1
    if existing is None:
        await conn.execute(
            "INSERT INTO jackpot_config_versions (jackpot_id, version, config_hash, status, config, actor) "
            "VALUES ($1, $2, $3, $4, $5, $6)", jackpot_id, version, h, str(doc.get("status", "")),
            json.dumps(doc, default=str), actor)
    await conn.execute(
        "UPDATE jackpot_configs SET current_version = $2, name = $3, updated_at = now() WHERE jackpot_id = $1",
        jackpot_id, version, str(doc.get("name", "")))
    return version, h, existing is None


def _back_office_status(doc: dict[str, Any]) -> str:
    status = str(doc.get("status", "ACTIVE"))
    if status in BACK_OFFICE_STATUSES:
        return status
    return "ARCHIVED" if status == "EXPIRED" else "ACTIVE"  # DROPPING is a live jackpot mid-drop


async def upsert_back_office(conn: asyncpg.Connection, doc: dict[str, Any], version: int, actor: str) -> list[str]:
    """Create or update the Back Office record of a config published outside the admin API, so the
    jackpot is listed, brand-scoped (by the config's brands) and controllable there. Its
    presentation (content) is kept; its wizard steps follow the published config. Returns the
    pending ``next_cycle`` changes this publication cancelled (the engine is told by the caller)."""
    from .wizard import steps_from_config

    steps = steps_from_config(doc)
    await conn.execute(
        "INSERT INTO admin_jackpots (jackpot_id, name, type, brands, status, steps, presentation, published_version, "
        "created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $8, $8) "
        "ON CONFLICT (jackpot_id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type, brands = EXCLUDED.brands, "
        "status = EXCLUDED.status, steps = EXCLUDED.steps, published_version = EXCLUDED.published_version, "
        "activate_at = NULL, revision = admin_jackpots.revision + 1, updated_at = now(), updated_by = EXCLUDED.updated_by",
        str(doc["jackpot_id"]), str(doc.get("name", "")), doc.get("type"), [str(b) for b in doc.get("brands", [])],
        _back_office_status(doc), json.dumps(steps), version, actor)
    # a scheduled activation or change prepared in the admin API is superseded by this publication
    rows = await conn.fetch(
        "UPDATE admin_config_changes SET state = 'cancelled', detail = $2 WHERE jackpot_id = $1 AND state = 'pending' "
        "RETURNING change_id, apply_timing", str(doc["jackpot_id"]), f"superseded by version {version} published by {actor}")
    return [str(r["change_id"]) for r in rows if r["apply_timing"] == "next_cycle"]


async def publish_config(conn: asyncpg.Connection, doc: dict[str, Any], *, topic: str, actor: str,
                         audit_key: bytes | str | None, source: str, back_office: bool,
                         send: bool = True, commands_topic: str | None = None) -> Published:
    """Publish one configuration inside the caller's transaction (see the module docstring).

    ``back_office``: create or update the ``admin_jackpots`` record from the config (every
    publisher but the admin API, which maintains that record itself); the pending ``next_cycle``
    change that cancels is withdrawn from the engine through ``commands_topic``. ``send``: queue
    the record for the configs topic (False when adopting a config that is already there).
    """
    assert conn.is_in_transaction(), "publish_config runs inside the caller's transaction"
    jackpot_id, value = normalise(doc)
    canonical = json.loads(value)
    for k in ("created_by", "updated_by"):  # kept in the version record, as the admin API always did
        if k in doc and k not in canonical:
            canonical[k] = doc[k]
    version, h, new = await record_version(conn, canonical, actor)
    if back_office:
        for change_id in await upsert_back_office(conn, canonical, version, actor):
            if commands_topic:
                await withdraw_change(conn, jackpot_id, change_id, topic=commands_topic, actor=actor)
    await audit.append(conn, [audit.Entry(
        event_id=str(uuid.uuid4()), event_type="ConfigPublished", jackpot_id=jackpot_id, actor=actor,
        ms=int(time.time() * 1000),
        body={"jackpot_id": jackpot_id, "version": version, "config_hash": h, "new_version": new, "actor": actor,
              "source": source, "status": canonical.get("status"), "brands": canonical.get("brands"),
              "sent": send})], key=audit_key, in_transaction=True)
    outbox_id = None
    if send:
        outbox_id = await enqueue(conn, kind="config", ref=jackpot_id, topic=topic, key=jackpot_id.encode(),
                                  value=value)
    return Published(jackpot_id, version, h, new, outbox_id)


async def adopt(pool: asyncpg.Pool, docs: dict[str, dict], *, audit_key: bytes | str | None) -> list[str]:
    """Record every config found on the configs topic that PostgreSQL does not know (published
    around the admin API, e.g. by an older CLI): version, Back Office record and audit entry, with
    the actor "bus". Returns the adopted jackpot ids."""
    if not docs:
        return []
    known = {r["jackpot_id"] for r in await pool.fetch(
        "SELECT jackpot_id FROM jackpot_configs WHERE jackpot_id = ANY($1::text[])", list(docs))}
    adopted = []
    for jackpot_id, doc in docs.items():
        if jackpot_id in known:
            continue
        try:
            async with pool.acquire() as conn, conn.transaction():
                if await conn.fetchval("SELECT 1 FROM jackpot_configs WHERE jackpot_id = $1", jackpot_id):
                    continue  # recorded by another process meanwhile
                await publish_config(conn, doc, topic="", actor=BUS_ACTOR, audit_key=audit_key, source="bus",
                                     back_office=True, send=False)
            adopted.append(jackpot_id)
        except Exception as exc:  # one bad config must not stop the others (the engine refuses it too)
            log.error("config on the topic not adopted", extra={"jackpot_id": jackpot_id, "error": repr(exc)})
    return adopted


class ConfigRefused(ValueError):
    """A config the rules refuse whoever publishes it (the admin API answers 422 for the same)."""


async def change_rules(conn: asyncpg.Connection, doc: dict[str, Any]) -> str:
    """The admin API's rules for a config published from elsewhere (regulatory items 5 and 7):
    ``"publish"`` now, or ``"next_cycle"`` for a math change the compliance profile lets take
    effect only after the current jackpot is won; raises ``ConfigRefused`` for a Win Max or chain
    prize above the budget's maximum single prize, or a limit below a pool's current amount."""
    from jackpot.sinks.budget import prize_cap_problems

    from . import impact

    capped = await prize_cap_problems(conn, doc)
    if capped:
        raise ConfigRefused("; ".join(capped))
    jackpot_id = str(doc["jackpot_id"])
    if await next_cycle_taken(conn, jackpot_id=jackpot_id):
        raise ConfigRefused("a next_cycle change of this jackpot was taken at a reseed and is being recorded as the "
                            "published version; publish again in a moment")
    old = await conn.fetchval(
        "SELECT v.config FROM jackpot_configs c JOIN jackpot_config_versions v ON v.jackpot_id = c.jackpot_id "
        "AND v.version = c.current_version WHERE c.jackpot_id = $1", jackpot_id)
    if old is None:
        return "publish"
    old = json.loads(old) if isinstance(old, str) else old
    new = json.loads(normalise(doc)[1])
    amounts = {(r["level_id"], r["currency"]): r["current_amount"] for r in await conn.fetch(
        "SELECT DISTINCT ON (level_id, currency) level_id, currency::text AS currency, current_amount "
        "FROM pool_snapshots WHERE jackpot_id = $1 ORDER BY level_id, currency, snapshot_ts DESC", jackpot_id)}
    below = impact.limits_below_current(new, amounts)
    if below:
        raise ConfigRefused("a limit may not be set below the current amount: " + "; ".join(below))
    if impact.math_changes(old, new) and not impact.immediate_math_allowed(new["compliance_profile"]):
        removed = impact.removals(old, new)
        if removed:
            raise ConfigRefused(f"a math change held until the next cycle may not remove {', '.join(removed)}")
        return "next_cycle"
    return "publish"


async def hold_for_next_cycle(conn: asyncpg.Connection, doc: dict[str, Any], actor: str, *,
                              commands_topic: str) -> str:
    """Record a math change as the admin API's pending ``next_cycle`` change and send it to the
    engine, which takes it at the reseed that ends the cycle (engine/succession.py); the scheduler
    then records it as the published version. Returns the change id."""
    from . import impact
    from .wizard import steps_from_config

    jackpot_id = str(doc["jackpot_id"])
    old = json.loads(await conn.fetchval(
        "SELECT v.config FROM jackpot_configs c JOIN jackpot_config_versions v ON v.jackpot_id = c.jackpot_id "
        "AND v.version = c.current_version WHERE c.jackpot_id = $1", jackpot_id))
    new = json.loads(normalise(doc)[1])
    presentation = await conn.fetchval("SELECT presentation FROM admin_jackpots WHERE jackpot_id = $1", jackpot_id)
    presentation = json.loads(presentation) if isinstance(presentation, str) else (presentation or {})
    change_id = uuid.uuid4()
    payload = {"doc": new, "steps": steps_from_config(new), "presentation": presentation,
               "cycle_levels": impact.cycle_levels(old, new)}
    await conn.execute(
        "INSERT INTO admin_config_changes (change_id, jackpot_id, apply_timing, apply_at, state, config, warnings, "
        "reason, created_by) VALUES ($1, $2, 'next_cycle', NULL, 'pending', $3, '[]', $4, $5)",
        change_id, jackpot_id, json.dumps(payload, default=str), "jackpot config apply: math change after the reseed",
        actor)
    await schedule_change(conn, jackpot_id, str(change_id), new, payload["cycle_levels"], topic=commands_topic,
                          actor=actor)
    return str(change_id)


# --------------------------------------------------------------------------- next_cycle changes
async def next_cycle_taken(conn: asyncpg.Connection, change_id: Any = None, *, jackpot_id: str | None = None) -> bool:
    """Whether the engine took this pending ``next_cycle`` change (or, given ``jackpot_id``, any
    pending one of that jackpot) at a reseed and it is not recorded as applied yet: its record of
    the take, under the change's id, reached PostgreSQL through the event sink."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM admin_config_changes ch JOIN operator_actions o "
        "  ON o.command_id = ch.change_id::text AND o.action = $3 AND o.outcome = 'applied' "
        "  WHERE ch.apply_timing = 'next_cycle' AND ch.state = 'pending' "
        "  AND ($1::uuid IS NULL OR ch.change_id = $1::uuid) AND ($2::text IS NULL OR ch.jackpot_id = $2))",
        change_id, jackpot_id, succession.TAKEN))


async def schedule_change(conn: asyncpg.Connection, jackpot_id: str, change_id: str, doc: dict[str, Any],
                          levels: list[str], *, topic: str, actor: str) -> int:
    """Queue, in the caller's transaction, the ``schedule_change`` command that hands a pending
    ``next_cycle`` change to the engine (its command id is the change id); a pending change it
    replaces is cancelled here as the engine replaces it there."""
    from .commands import CommandBus

    await conn.execute(
        "UPDATE admin_config_changes SET state = 'cancelled', detail = $3 WHERE jackpot_id = $1 AND state = 'pending' "
        "AND apply_timing = 'next_cycle' AND change_id <> $2::uuid", jackpot_id, change_id,
        f"superseded by change {change_id}")
    # exactly the config the scheduler publishes once the engine took it (same fingerprint)
    _, value, _ = CommandBus.encode(jackpot_id, succession.SCHEDULE, actor, command_id=change_id,
                                    reason="next_cycle change", change_id=change_id,
                                    config_json=normalise(doc)[1].decode(), level_ids=[str(lv) for lv in levels])
    return await enqueue(conn, kind="command", ref=change_id, topic=topic, key=jackpot_id.encode(), value=value)


async def withdraw_change(conn: asyncpg.Connection, jackpot_id: str, change_id: str, *, topic: str,
                          actor: str) -> tuple[str, int]:
    """Queue the ``cancel_change`` command for a pending ``next_cycle`` change; (its command id, outbox id).
    The engine refuses it if it took the change already, and the scheduler then applies the change."""
    from .commands import CommandBus

    command_id, value, _ = CommandBus.encode(jackpot_id, succession.CANCEL, actor,
                                                 reason="next_cycle change cancelled", change_id=change_id)
    return command_id, await enqueue(conn, kind="command", ref=command_id, topic=topic, key=jackpot_id.encode(),
                                     value=value)


async def publish_configs(settings: Any, docs: list[dict], *, actor: str, source: str = "cli",
                          held: list[str] | None = None) -> list[str]:
    """``jackpot config apply``: validate every doc first (all or nothing), apply the admin API's
    rules (``change_rules``), publish the rest in one transaction, then send them and whatever
    else the outbox holds; return the jackpot ids published. A math change the compliance
    profile holds until the next cycle is recorded as a pending change instead (its jackpot id
    appended to ``held``)."""
    from jackpot.streams.kafka import producer
    from jackpot.streams.topics import COMMANDS, CONFIGS, ensure_topics

    for d in docs:
        normalise(d)
    topic, commands = settings.topic(CONFIGS.name), settings.topic(COMMANDS.name)
    key = audit.require_key(settings)  # the CLI appends to the chain too: same key policy as the services
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            published = []
            for d in docs:
                if await change_rules(conn, d) == "next_cycle":
                    await hold_for_next_cycle(conn, d, actor, commands_topic=commands)
                    if held is not None:
                        held.append(str(d["jackpot_id"]))
                    continue
                published.append(await publish_config(conn, d, topic=topic, actor=actor, audit_key=key,
                                                      source=source, back_office=True, commands_topic=commands))
    finally:
        await conn.close()
    await ensure_topics(settings)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        async with producer(settings) as prod:
            await Outbox(pool, prod).flush()
    finally:
        await pool.close()
    return [p.jackpot_id for p in published]
