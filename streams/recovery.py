"""Faust's table recovery with the faults that made standby replicas unsafe fixed.

faust-streaming 0.15's ``Recovery`` (faust/tables/recovery.py) reads changelogs for the active
partitions after a rebalance and then keeps reading them for the standby partitions.  Two faults
were found there, fixed here (README "Scaling workers"); a third, in the fetch loop, is fixed in
the consumer (``StrictConsumer._reseek_standbys``, streams/transport.py):

1. A lost wake-up.  The changelog reader clears ``signal_recovery_end`` at the top of every pass
   and sets it once, when the active partitions have caught up, also marking the recovery ended
   (``in_recovery = False``).  The rebalance waits for that event only after resuming the
   partitions and starting the fetcher; when the reader finishes first (a promoted standby with
   a few records, already prefetched) the event is set and cleared again before anyone waits,
   and since the recovery is then marked ended, never set again: the worker stays rebalancing,
   never ready.  :class:`RecoveryEnd` answers a wait at once when the recovery has already ended.
2. Standby records thrown away.  Faust creates the changelog queue with ``clear_on_resume``, so
   every ``flow_control.resume()`` empties it, and the recovery's last step resumes the flow
   after the standby partitions have started fetching.  The standby records in the queue at that
   moment are lost (the fetch position is past them); the next ones then move the standby's
   persisted offset past the hole, and a standby promoted later starts from a value that misses
   writes.  Here resuming leaves the queue alone, and the queue is emptied where the clears were
   needed: when partitions are revoked, and as each recovery starts, before any partition of the
   new assignment is resumed (records of the old assignment, put late by a fetch that was under
   way, must not reach the new one: every partition is read again from its persisted offset).

Private attributes relied on: ``Recovery._signal_recovery_end`` and ``in_recovery``,
``TableManager._changelog_queue`` and ``_recovery``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Set

from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP


class RecoveryEnd(asyncio.Event):
    """``signal_recovery_end`` that does not miss an end which came before the wait."""

    def __init__(self, recovery: Recovery) -> None:
        super().__init__()
        self.recovery = recovery

    async def wait(self) -> bool:
        if not self.recovery.in_recovery:
            return True  # the reader marked the recovery ended (and maybe cleared us) already
        return await super().wait()


class JackpotRecovery(Recovery):
    def _set_recovery_started(self) -> None:
        super()._set_recovery_started()
        self.tables.changelog_queue.clear()  # see 2. above: what faust's resume here cleared

    @property
    def signal_recovery_end(self) -> asyncio.Event:  # type: ignore[override]
        if self._signal_recovery_end is None:
            self._signal_recovery_end = RecoveryEnd(self)
        return self._signal_recovery_end


class JackpotTableManager(TableManager):
    """Faust's table manager with :class:`JackpotRecovery` and a changelog queue that only a
    revocation empties."""

    @property
    def changelog_queue(self) -> Any:
        if self._changelog_queue is None:
            self._changelog_queue = self.app.FlowControlQueue(
                maxsize=self.app.conf.stream_buffer_maxsize, clear_on_resume=False)
        return self._changelog_queue

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = JackpotRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

    def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        super().on_partitions_revoked(revoked)  # flushes the records read into the tables
        self.changelog_queue.clear()
