"""Operator commands onto the jackpot's partition, and their receipts.

A command is an ``OperatorCommand`` record keyed by ``jackpot_id`` on ``operator-commands``, so
the jackpot's single writer applies it in order with the bets. The engine answers every command,
applied or refused, with an ``OperatorActionRecorded`` record on the audit topic; ``Receipts``
follows that topic from the end (every partition, no consumer group) and resolves the waiter of
each command id, which is how a response can say when — and whether — a command was applied.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from jackpot.settings import Settings
from jackpot.streams import topics as T
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.kafka import assign_all, client_options

log = logging.getLogger(__name__)

OPERATOR_ACTION = "OperatorActionRecorded"


@dataclass(frozen=True)
class Receipt:
    command_id: str
    jackpot_id: str
    action: str
    outcome: str  # applied | rejected
    detail: str
    applied_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"command_id": self.command_id, "jackpot_id": self.jackpot_id, "action": self.action,
                "outcome": self.outcome, "detail": self.detail, "applied_at": self.applied_at}


class Receipts:
    """Follows the audit topic for command receipts; keeps the latest few thousand in memory."""

    def __init__(self, settings: Settings, keep: int = 5000) -> None:
        self.settings = settings
        self.topic = settings.topic(T.AUDIT.name)
        self._waiters: dict[str, list[asyncio.Future]] = collections.defaultdict(list)
        self._recent: collections.OrderedDict[str, Receipt] = collections.OrderedDict()
        self._keep = keep
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(**client_options(self.settings), group_id=None,
                                          enable_auto_commit=False, auto_offset_reset="latest")
        await self._consumer.start()
        tps = await assign_all(self._consumer, self.topic)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # pin the positions now, so nothing produced after start() is missed
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._follow(), name="admin-receipts")
        self.ready.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._consumer:
            await self._consumer.stop()

    async def _follow(self) -> None:
        assert self._consumer is not None
        codec = catalog()
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker hiccup: keep following
                log.warning("receipts consumer error", extra={"error": repr(exc)})
                await asyncio.sleep(1)
                continue
            for msgs in batches.values():
                for msg in msgs:
                    try:
                        _, rec = codec.decode(msg.value)
                    except DecodeError:
                        continue
                    if rec.get("kind") != OPERATOR_ACTION:
                        continue
                    self._resolve(_receipt(rec))

    def _resolve(self, r: Receipt) -> None:
        self._recent[r.command_id] = r
        while len(self._recent) > self._keep:
            self._recent.popitem(last=False)
        for fut in self._waiters.pop(r.command_id, []):
            if not fut.done():
                fut.set_result(r)

    def expect(self, command_id: str) -> asyncio.Future:
        """Register before sending, so a fast receipt cannot be missed."""
        fut = asyncio.get_running_loop().create_future()
        if command_id in self._recent:
            fut.set_result(self._recent[command_id])
        else:
            self._waiters[command_id].append(fut)
        return fut

    async def wait(self, fut: asyncio.Future, command_id: str, timeout_s: float) -> Receipt | None:
        if timeout_s <= 0 and not fut.done():
            self._drop(command_id, fut)
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except asyncio.TimeoutError:
            self._drop(command_id, fut)
            return None

    def _drop(self, command_id: str, fut: asyncio.Future) -> None:
        waiters = self._waiters.get(command_id)
        if waiters and fut in waiters:
            waiters.remove(fut)
            if not waiters:
                self._waiters.pop(command_id, None)

    def recent(self, command_id: str) -> Receipt | None:
        return self._recent.get(command_id)


def _receipt(rec: dict) -> Receipt:
    p = json.loads(rec["payload_json"])
    ts = rec["timestamp"]
    return Receipt(str(p.get("command_id")), str(rec["jackpot_id"]), str(p.get("action")), str(p.get("outcome")),
                   str(p.get("detail") or ""), ts if isinstance(ts, dt.datetime) else dt.datetime.fromtimestamp(
                       int(ts) / 1000, tz=dt.timezone.utc))


async def stored_receipt(pool: asyncpg.Pool, command_id: str) -> Receipt | None:
    """A receipt from the ledger (``operator_actions``, written by the event sink)."""
    row = await pool.fetchrow(
        "SELECT jackpot_id, command_id, action, outcome, detail, acted_at FROM operator_actions "
        "WHERE command_id = $1 ORDER BY acted_at LIMIT 1", command_id)
    if row is None:
        return None
    return Receipt(row["command_id"], row["jackpot_id"], row["action"], row["outcome"], row["detail"] or "",
                   row["acted_at"])


class CommandBus:
    """Builds ``OperatorCommand`` records keyed by jackpot id; they are sent through the outbox
    (publication.py), after the command's row and audit entry commit."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.topic = settings.topic(T.COMMANDS.name)

    @staticmethod
    def encode(jackpot_id: str, action: str, actor: str, *, reason: str = "", command_id: str | None = None,
               level_id: str | None = None, currency: str | None = None, approvals: list[str] | None = None,
               amount: Decimal | None = None, adjustment_reason: str | None = None,
               target_level_id: str | None = None, delay_seconds: int | None = None, win_id: str | None = None,
               player_id: str | None = None, other_jackpot_id: str | None = None, change_id: str | None = None,
               config_json: str | None = None, level_ids: list[str] | None = None) -> tuple[str, bytes, dt.datetime]:
        """The ``OperatorCommand`` record (its event id is the command id), encoded for the outbox."""
        command_id = command_id or str(uuid.uuid4())
        now = dt.datetime.now(dt.timezone.utc)
        record = {
            "event_id": command_id, "timestamp": now, "jackpot_id": jackpot_id, "action": action, "actor": actor,
            "reason": reason, "level_id": level_id, "currency": currency, "approvals": list(approvals or []),
            "amount": amount, "adjustment_reason": adjustment_reason, "target_level_id": target_level_id,
            "delay_seconds": delay_seconds, "win_id": win_id, "player_id": player_id,
            "other_jackpot_id": other_jackpot_id, "change_id": change_id, "config_json": config_json,
            "level_ids": level_ids,
        }
        return command_id, catalog().encode("OperatorCommand", record), now
