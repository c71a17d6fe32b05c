"""The scheduled reconciliation: PostgreSQL ledger against the live jackpot table, every 15 minutes.

The comparison itself is ``sinks.reconcile`` (pure SQL and arithmetic).  This module gives it
the live side (the latest jackpot-table value of every jackpot, read from the table's compacted
changelog, so one run covers every partition whichever worker owns it) and acts on the result:
the ReconciliationCompleted / ReconciliationMismatch events go to jackpot-events (the mismatch is
the operator's alert, with the amounts), and every jackpot that differs is put in the fault state
by a ``fault`` command on its own partition, applied in order with its bets (regulatory item 11).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

import asyncpg

from jackpot.engine.events import EngineEvent
from jackpot.settings import Settings
from jackpot.sinks.reconcile import ReconciliationResult, reconcile_settled, record, summary
from jackpot.streams import topics as T
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import group_lag, producer, read_to_end
from jackpot.streams.outputs import encode as encode_event
from jackpot.tables.jackpots import TABLE_NAME

log = logging.getLogger(__name__)
ACTOR = "system:reconciliation"


def changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-{TABLE_NAME}-changelog"


async def table_states(settings: Settings) -> dict[str, dict[str, Any]]:
    """The latest jackpot-table value per jackpot, from the changelog (beginning to end now)."""
    latest: dict[str, dict[str, Any]] = {}
    for r in await read_to_end(settings, changelog_topic(settings)):
        if r.key is None:
            continue
        if r.value is None:
            latest.pop(r.key.decode(), None)
        else:
            latest[r.key.decode()] = json.loads(r.value)
    return latest


def fault_command(res: ReconciliationResult, jackpot_id: str) -> dict[str, Any]:
    """The OperatorCommand that puts a differing jackpot in the fault state (one per run and jackpot)."""
    diffs = [d for d in res.differences if d.jackpot_id == jackpot_id]
    worst = max(diffs, key=lambda d: abs(d.difference))
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"reconcile/{res.run_id}/{jackpot_id}/fault")),
        "timestamp": dt.datetime.fromtimestamp(res.at_ms / 1000, tz=dt.timezone.utc),
        "jackpot_id": jackpot_id, "action": "fault", "actor": ACTOR,
        "reason": (f"reconciliation {res.run_id}: {len(diffs)} difference(s), largest {worst.metric} "
                   f"{worst.level_id or '*'}/{worst.currency} ledger {worst.ledger} table {worst.table} micros"),
    }


async def ledger_sink_lag(settings: Settings) -> int:
    lag, _ = await group_lag(settings, f"{settings.app_id}-ledger-sink",
                             [settings.topic(T.LEDGER.name)])
    return lag


async def reconcile_and_act(settings: Settings, *, settle_s: float | None = None) -> ReconciliationResult:
    """One run: settle, record in PostgreSQL, publish the result events and the fault commands.

    A difference that is only the ledger trailing the table, while the ledger sink still has
    events to write, is reported as ``ledger_behind`` (its lag is alerted on separately) and
    faults nothing: a busy sink is not a broken ledger.
    """
    conn = await asyncpg.connect(settings.database_url)
    try:
        res = await reconcile_settled(conn, lambda: table_states(settings), interval_s=5.0,
                                      settle_s=settings.reconcile_settle_s if settle_s is None else settle_s)
        if res.only_behind() and await ledger_sink_lag(settings) > 0:
            res.status = "ledger_behind"
        await record(conn, res)
    finally:
        await conn.close()
    codec = catalog()
    async with producer(settings) as prod:
        sent = []
        for ev in res.events():
            for wire in encode_event(EngineEvent.from_dict(ev)):
                sent.append(await prod.send(settings.topic(wire.topic.name), key=ev["jackpot_id"].encode(),
                                            value=wire.value))
        for jackpot_id in res.faulted():
            sent.append(await prod.send(settings.topic(T.COMMANDS.name), key=jackpot_id.encode(),
                                        value=codec.encode("OperatorCommand", fault_command(res, jackpot_id))))
        for fut in sent:
            await fut
    (log.info if res.ok else log.error)(summary(res), extra={"run_id": res.run_id, "status": res.status,
                                                             "differences": len(res.differences)})
    return res
