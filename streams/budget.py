"""The scheduled budget check: the spec's budget alerts and Budget Constraint Mode limits, from
the ledger (sinks/budget.py), published as ``BudgetAlert`` events on jackpot-events by the
worker's leader. The event sink keeps them in ``alerts`` and the audit trail; an alert's id is
its kind, pool and UTC day, so a check that runs every few minutes raises each once a day."""

from __future__ import annotations

import datetime as dt
import logging

import asyncpg

from jackpot.settings import Settings
from jackpot.sinks.budget import BudgetAlert, all_alerts
from jackpot.streams.kafka import producer
from jackpot.streams.outputs import encode as encode_event

log = logging.getLogger(__name__)


async def check_and_alert(settings: Settings, now: dt.datetime | None = None) -> list[BudgetAlert]:
    now = now or dt.datetime.now(dt.timezone.utc)
    conn = await asyncpg.connect(settings.database_url)
    try:
        alerts = await all_alerts(conn, now)
    finally:
        await conn.close()
    if alerts:
        async with producer(settings) as prod:
            sent = []
            for a in alerts:
                ev = a.event(now)
                for wire in encode_event(ev):
                    sent.append(await prod.send(settings.topic(wire.topic.name), key=ev.jackpot_id.encode(),
                                                value=wire.value))
            for fut in sent:
                await fut
        for a in alerts:
            log.warning("budget alert", extra={"jackpot_id": a.jackpot_id, "kind": a.kind, "detail": a.text()})
    return alerts
