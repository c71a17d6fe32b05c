"""The admin process's connections and collaborators, opened once at start-up."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from jackpot.settings import Settings
from jackpot.engine import succession
from jackpot.engine.config import Jackpot
from jackpot.sinks.budget import activation_refusal
from jackpot.streams import topics as T
from jackpot.streams.configs import ConfigView
from jackpot.streams.kafka import client_options

from .commands import CommandBus, Receipts
from .idempotency import IdempotencyStore
from .publication import Outbox, adopt, publish_config
from .rbac import Principal, Role
from .store import JackpotStore
from .tokens import TokenStore
from .trail import Trail, checkpointer

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0
SCHEDULER = Principal(token_id="-", actor="system:scheduler", role=Role.ADMIN, all_brands=True)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.receipts = Receipts(settings)
        self._scheduler: asyncio.Task | None = None
        self.checkpointer = None  # signed checkpoints of the audit chain's head (sinks/checkpoints.py)
        self._relay: asyncio.Task | None = None
        self.configs: ConfigView | None = None

    async def start(self) -> None:
        s = self.settings
        await T.ensure_topics(s)
        self.pool = await asyncpg.create_pool(s.database_url, min_size=1, max_size=8)
        self.producer = AIOKafkaProducer(**client_options(s), acks="all",
                                         enable_idempotence=True, linger_ms=0)
        await self.producer.start()
        await self.receipts.start()
        verifier = None
        if s.admin_jwt_issuer:
            from .jwt_auth import JwtVerifier

            verifier = JwtVerifier(s)
        self.tokens = TokenStore(self.pool, verifier)
        self.trail = Trail(self.pool, s.audit_hmac_key or None)
        self.checkpointer = checkpointer(s, self.pool, self.producer)
        self.idempotency = IdempotencyStore(self.pool)
        self.jackpots = JackpotStore(self.pool)
        self.bus = CommandBus(s, self.producer)
        self.outbox = Outbox(self.pool, self.producer, send_timeout_s=PUBLISH_TIMEOUT_S)
        # every config on the compacted topic, so an id published around this API is never taken
        self.configs = ConfigView(s, s.topic(T.CONFIGS.name), Jackpot.model_validate)
        await self.configs.start()
        await self.adopt_bus_configs()
        self._relay = asyncio.create_task(self.outbox.relay(s.admin_scheduler_interval_s), name="admin-outbox-relay")
        self._scheduler = asyncio.create_task(self._schedule_loop(), name="admin-scheduler")

    async def stop(self) -> None:
        if self.checkpointer:
            await self.checkpointer.stop()
        for task in (self._scheduler, self._relay):
            if task:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        if self.configs:
            await self.configs.stop()
        await self.receipts.stop()
        if self.producer:
            await self.producer.stop()
        if self.pool:
            await self.pool.close()

    async def publish_config(self, conn: asyncpg.Connection, doc: dict[str, Any], actor: str) -> int:
        """Record, audit and queue a validated config in the caller's transaction (publication.py);
        the caller keeps the Back Office record and sends with ``outbox.kick()`` after commit."""
        published = await publish_config(conn, doc, topic=self.settings.topic(T.CONFIGS.name), actor=actor,
                                          audit_key=self.trail.key, source="admin", back_office=False)
        return published.version

    def on_bus(self, jackpot_id: str) -> bool:
        """Whether the configs topic holds a config (valid or not) for this jackpot id."""
        view = self.configs
        return view is not None and (jackpot_id in view.raw or jackpot_id in view.errors)

    async def adopt_bus_configs(self) -> list[str]:
        """Record the configs on the topic that PostgreSQL lacks (actor "bus", audited)."""
        assert self.pool is not None and self.configs is not None
        return await adopt(self.pool, dict(self.configs.raw), audit_key=self.trail.key)

    async def ready(self) -> dict[str, bool]:
        checks = {"database": False, "kafka": self.producer is not None, "receipts": self.receipts.ready.is_set()}
        try:
            assert self.pool is not None
            await self.pool.fetchval("SELECT 1")
            checks["database"] = True
        except Exception:
            pass
        return checks

    # ------------------------------------------------------------------ scheduled changes
    async def _schedule_loop(self) -> None:
        while True:
            try:
                await self.apply_due_changes()
                await self.apply_next_cycle_changes()
                await self.apply_archives()
                await self.adopt_bus_configs()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("scheduled changes failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.settings.admin_scheduler_interval_s)

    async def apply_due_changes(self, now: dt.datetime | None = None) -> int:
        """Publish scheduled changes and activations whose time has come, each in its own transaction
        (several admin processes may run this: a change is claimed with SKIP LOCKED). A change the
        engine's validation now refuses is marked failed; a broker outage leaves it pending."""
        assert self.pool is not None
        now = now or dt.datetime.now(dt.timezone.utc)
        due = await self.pool.fetch(
            "SELECT change_id FROM admin_config_changes WHERE state = 'pending' "
            "AND apply_timing IN ('scheduled', 'activation') AND apply_at <= $1 ORDER BY apply_at", now)
        return await self._apply_changes(due)

    async def apply_next_cycle_changes(self) -> int:
        """Record as the published version each ``next_cycle`` change the engine took at the reseed
        that ended its cycle (engine/succession.py), oldest first. The engine's order of inputs is
        the truth: a change cancelled or superseded here after the engine had taken it (the two
        crossed) is in effect there, so it is applied after all, unless its jackpot was archived or a
        later version was published meanwhile (the engine runs that one instead)."""
        assert self.pool is not None
        crossed = await self.pool.fetch(
            "UPDATE admin_config_changes ch SET state = 'pending', detail = 'the cancellation reached the engine after "
            "it took the change at the reseed: in effect' FROM admin_jackpots j WHERE j.jackpot_id = ch.jackpot_id "
            "AND j.status <> 'ARCHIVED' AND ch.state = 'cancelled' AND ch.apply_timing = 'next_cycle' "
            "AND coalesce(ch.detail, '') NOT LIKE 'superseded by version%' AND EXISTS ("
            "  SELECT 1 FROM operator_actions o WHERE o.command_id = ch.change_id::text AND o.action = $1 "
            "  AND o.outcome = 'applied') RETURNING ch.change_id", succession.TAKEN)
        for r in crossed:
            log.warning("a next_cycle change was cancelled after the engine took it; applying it",
                        extra={"change_id": str(r["change_id"])})
        await self.pool.execute(  # the engine refused to keep it (decommissioning, another change taking effect)
            "UPDATE admin_config_changes ch SET state = 'failed', detail = 'the engine refused it: ' || o.detail "
            "FROM operator_actions o WHERE o.command_id = ch.change_id::text AND o.action = $1 "
            "AND o.outcome = 'rejected' AND ch.state = 'pending' AND ch.apply_timing = 'next_cycle'", succession.SCHEDULE)
        await self.pool.execute(  # no cycle follows on an archived jackpot: nothing to record
            "UPDATE admin_config_changes ch SET state = 'cancelled', detail = 'the jackpot was archived' "
            "FROM admin_jackpots j WHERE j.jackpot_id = ch.jackpot_id AND j.status = 'ARCHIVED' "
            "AND ch.state = 'pending' AND ch.apply_timing = 'next_cycle'")
        due = await self.pool.fetch(
            "SELECT ch.change_id FROM admin_config_changes ch WHERE ch.state = 'pending' "
            "AND ch.apply_timing = 'next_cycle' AND EXISTS (SELECT 1 FROM operator_actions o "
            "  WHERE o.command_id = ch.change_id::text AND o.action = $1 AND o.outcome = 'applied') "
            "ORDER BY ch.created_at", succession.TAKEN)
        return await self._apply_changes(due)

    async def apply_archives(self, jackpot_id: str | None = None) -> int:
        """Follow decommissions (regulatory item 9): a pending ``archive`` change is applied once the
        engine reports its jackpot ARCHIVED (the config is published ARCHIVED, so routers stop
        matching it, and the record is archived); one whose ``decommission`` command the engine
        refused is cancelled with the engine's reason."""
        assert self.pool is not None
        rows = await self.pool.fetch(
            "SELECT ch.change_id, EXISTS (SELECT 1 FROM jackpot_state_changes s WHERE s.jackpot_id = ch.jackpot_id "
            "  AND s.level_id IS NULL AND s.new_state = 'ARCHIVED') AS archived, "
            "(SELECT o.detail FROM operator_actions o WHERE o.command_id = ch.config ->> 'command_id' "
            "  AND o.outcome = 'rejected' LIMIT 1) AS refused "
            "FROM admin_config_changes ch WHERE ch.state = 'pending' AND ch.apply_timing = 'archive' "
            "AND ($1::text IS NULL OR ch.jackpot_id = $1)", jackpot_id)
        for r in rows:
            if r["refused"] is not None and not r["archived"]:
                await self.pool.execute(
                    "UPDATE admin_config_changes SET state = 'cancelled', detail = $2 WHERE change_id = $1 "
                    "AND state = 'pending'", r["change_id"], f"the engine refused: {r['refused']}")
        return await self._apply_changes([r for r in rows if r["archived"]])

    async def wait_archived(self, jackpot_id: str, wait_s: float) -> bool:
        """Whether the jackpot's decommission completed (and was applied) within ``wait_s``."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            await self.apply_archives(jackpot_id)
            if (await self.jackpots.get(jackpot_id)).status == "ARCHIVED":
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.25)

    async def _apply_changes(self, due: list) -> int:
        """Apply each due change in its own transaction; one the validation now refuses is marked failed."""
        assert self.pool is not None
        applied = 0
        for row in due:
            try:
                applied += await self._apply_change(row["change_id"])
            except ValidationError as exc:
                await self.pool.execute(
                    "UPDATE admin_config_changes SET state = 'failed', detail = $2 WHERE change_id = $1",
                    row["change_id"], f"no longer valid: {exc.error_count()} problem(s): {str(exc)[:1000]}")
                log.error("due change failed validation", extra={"change_id": str(row["change_id"])})
        return applied

    async def _apply_change(self, change_id: Any) -> int:
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            ch = await self.jackpots.claim_change(conn, change_id)
            if ch is None:  # applied, cancelled or claimed by another process meanwhile
                return 0
            rec = await self.jackpots.get(ch["jackpot_id"], conn, lock=True)
            payload = ch["config"]
            extra: dict[str, Any] = {}
            if ch["apply_timing"] == "activation":
                doc, extra["status"] = payload, "ACTIVE"
                held = await activation_refusal(conn, list(doc.get("currencies") or []),
                                                dt.datetime.now(dt.timezone.utc))
                if held:  # Budget Constraint Mode: the activation waits, pending, until the budget allows it
                    await conn.execute("UPDATE admin_config_changes SET detail = $2 WHERE change_id = $1",
                                       change_id, f"held: {held}")
                    return 0
            elif ch["apply_timing"] == "archive":
                doc, extra["status"] = await self.jackpots.current_config(rec.jackpot_id), "ARCHIVED"
                doc = {**(doc or {"jackpot_id": rec.jackpot_id, "name": rec.name}), "status": "ARCHIVED"}
            else:
                doc = payload["doc"]
                extra.update(steps=payload["steps"], presentation=payload["presentation"], name=doc["name"])
            version = await self.publish_config(conn, doc, SCHEDULER.actor)
            after = await self.jackpots.update(conn, rec, SCHEDULER.actor, published_version=version,
                                               activate_at=None, **extra)
            await conn.execute(
                "UPDATE admin_config_changes SET state = 'applied', applied_at = now(), version = $2 "
                "WHERE change_id = $1", change_id, version)
            await self.trail.record(SCHEDULER, action=f"apply_{ch['apply_timing']}_change",
                                    jackpot_id=rec.jackpot_id, request_id=str(change_id),
                                    before=rec.snapshot(), after=after.snapshot(),
                                    detail={"version": version}, conn=conn)
        await self.outbox.kick()
        return 1


def dumps(v: Any) -> str:
    return json.dumps(v, default=str, sort_keys=True)
