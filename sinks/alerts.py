"""Alert events raised by the sinks (database outage and recovery), as EngineEvent dicts.

The worker publishes them on ``jackpot-events`` like any other engine event (so the event sink
records them in ``alerts`` and the audit trail once the database is back) and logs them.
Ids are derived from the sink, the host process and the outage's start, so one outage is one
alert even if the callback runs again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

from jackpot.engine.events import make_event

from . import metrics

log = logging.getLogger(__name__)

SINK_OUTAGE = "SinkOutage"
SINK_RECOVERED = "SinkRecovered"
SYSTEM_JACKPOT = "*"  # alerts that concern no single jackpot


def outage_event(sink: str, error: str, started_ms: int) -> dict:
    cause = f"{sink}|{socket.gethostname()}|{os.getpid()}|{started_ms}"
    return make_event(SINK_OUTAGE, SYSTEM_JACKPOT, cause, started_ms,
                      {"sink": sink, "error": error, "started_at": started_ms,
                       "effect": "offsets held; the worker keeps processing; the sink catches up when PostgreSQL returns"}
                      ).to_dict()


def recovery_event(sink: str, started_ms: int, now_ms: int) -> dict:
    cause = f"{sink}|{socket.gethostname()}|{os.getpid()}|{started_ms}|recovered"
    return make_event(SINK_RECOVERED, SYSTEM_JACKPOT, cause, now_ms,
                      {"sink": sink, "started_at": started_ms, "duration_ms": now_ms - started_ms}).to_dict()


class OutageAlerts:
    """``on_outage`` / ``on_recovery`` callbacks for ``write_with_retry``: metric, log, publish.

    ``publish`` is an async callable taking an EngineEvent dict (the worker sends it to
    ``jackpot-events``); it must not need the database.
    """

    def __init__(self, sink: str, publish: Callable[[dict], Awaitable[None]] | None = None) -> None:
        self.sink = sink
        self.publish = publish
        self.started_ms: int | None = None

    async def on_outage(self, exc: BaseException) -> None:
        if self.started_ms is None:
            self.started_ms = int(time.time() * 1000)
        metrics.database_down(self.sink, True)
        log.error("PostgreSQL unavailable for sink %s; holding offsets until it returns", self.sink,
                  extra={"error": str(exc)})
        if self.publish is not None:
            await self.publish(outage_event(self.sink, f"{type(exc).__name__}: {exc}", self.started_ms))

    async def on_recovery(self) -> None:
        metrics.database_down(self.sink, False)
        started, self.started_ms = self.started_ms or int(time.time() * 1000), None
        now = int(time.time() * 1000)
        log.warning("PostgreSQL back for sink %s after %.1fs", self.sink, (now - started) / 1000)
        if self.publish is not None:
            await self.publish(recovery_event(self.sink, started, now))
