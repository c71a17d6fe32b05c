"""Every input partition is applied in offset order, without holes, or not at all.

The jackpot table skips a bet it has already applied by the highest bets offset it holds per
bets partition, and the players table does the same per player.  That is only sound while each
input partition reaches its agent in order and complete: if Faust drops a message from an
agent's buffer during a rebalance (faust #596) and delivers the next one, applying the next one
raises the mark over the dropped bet, and when the dropped one is replayed it looks applied.

The guard remembers, per partition and per assignment, the next offset it expects (at first the
group's committed offset, where reading resumes).  A message at or below it is applied (a
replay is skipped by the table's own marks); a message beyond it means something in between
went missing.  The guard then reads the missing messages straight from the broker
(streams/refill.py) and hands them to the agent ahead of the message that revealed the hole, so
the partition is applied complete and in order without waiting; once the agent has persisted
them, the worker marks their range done in the consumer, so the group's commit moves over it.
Only when they cannot be read (the broker unreachable) does the guard fall back to seeking the
consumer back to the missing offset and holding later messages until the hole is delivered
again; should that seek not bring it back either, the worker restarts itself after a while and
resumes from the committed offsets, which never pass a hole.  Our topics are neither compacted nor
transactional, so within a partition offsets have no holes of their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import TP, EventT

log = logging.getLogger(__name__)


class GapGuard:
    def __init__(self, committed: Callable[[TP], int | None], seek: Callable[[TP, int], Awaitable[Any]],
                 generation: Callable[[], Any], assigned: Callable[[TP], bool],
                 on_stuck: Callable[[TP, int], None] | None = None, stuck_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 earliest: Callable[[TP], Awaitable[int | None]] | None = None,
                 exempt: Callable[[TP], bool] = lambda tp: False,
                 reader: Callable[[str, int, int, int], Awaitable[list | None]] | None = None) -> None:
        self._reader = reader
        self.refilled: list[tuple[TP, int, int]] = []  # (partition, start, end): read back, not yet persisted
        self._earliest = earliest
        self._exempt = exempt
        self._on_stuck = on_stuck
        self._stuck_after_s = stuck_after_s
        self._clock = clock
        self._committed = committed
        self._assigned = assigned
        self._seek = seek
        self._generation = generation
        self._seen_generation = generation()
        self.expected: dict[TP, int] = {}
        self.seeking: dict[TP, float] = {}  # partition -> when the seek back was asked for
        self.holes = 0  # holes found (a metric: each one is a message Faust failed to deliver)
        self._seeks: set[asyncio.Task] = set()

    async def admit(self, event: EventT) -> bool:
        """True when ``event`` may be applied now; False when it must wait for a hole to be refilled."""
        return bool(await self.admit_all(event))

    async def admit_all(self, event: EventT) -> list:
        """What to apply now, in order: ``[event]``; the messages of a hole read back from the
        broker followed by ``event``; or nothing (not ours, or waiting for a seek to refill)."""
        gen = self._generation()
        if gen != self._seen_generation:  # a rebalance: reading resumes from the committed offsets
            self.expected.clear()
            self.seeking.clear()
            self._seen_generation = gen
        tp, offset = event.message.tp, event.message.offset
        if not self._assigned(tp):
            return []  # left over from a partition handed to another worker: its new owner applies it
        if self._exempt(tp):
            return [event]  # a compacted topic: holes are normal, and its records are facts, not increments
        expected = self.expected.get(tp)
        if expected is None:
            expected = self._committed(tp)
            if (expected is None or expected < 0) and self._earliest is not None:
                expected = await self._earliest(tp)  # nothing committed yet: reading starts at the log start
            if expected is None or expected < 0:
                expected = offset
            log.info("partition resumes", extra={"topic": tp.topic, "partition": tp.partition,
                                                 "expected": expected, "first": offset})
        if offset < expected:
            return [event]  # a replay of something already applied
        if offset == expected:
            self.expected[tp] = offset + 1
            self.seeking.pop(tp, None)
            return [event]
        self.expected[tp] = expected
        if tp not in self.seeking:
            self.holes += 1
        if self._reader is not None:
            missing = await self._reader(tp.topic, tp.partition, expected, offset)
            if gen != self._generation() or not self._assigned(tp):
                return []  # rebalanced meanwhile: reading resumes from the committed offsets
            if missing is not None:
                log.warning("input hole: read back from the broker", extra={
                    "topic": tp.topic, "partition": tp.partition, "expected": expected, "got": offset})
                self.refilled.append((tp, expected, offset))
                self.expected[tp] = offset + 1
                self.seeking.pop(tp, None)
                return [*missing, event]
        if tp in self.seeking:
            if self._on_stuck is not None and self._clock() - self.seeking[tp] > self._stuck_after_s:
                # the seek did not bring the hole back: start over from the committed offsets
                self._on_stuck(tp, expected)
            return []
        self.seeking[tp] = self._clock()
        log.warning("input hole: seeking back", extra={"topic": tp.topic, "partition": tp.partition,
                                                        "expected": expected, "got": offset})
        # Not awaited here: the seek is queued to the consumer's thread, which may itself be
        # waiting for this agent to take more messages off its full buffer.
        task = asyncio.ensure_future(self._seek(tp, expected))
        self._seeks.add(task)
        task.add_done_callback(self._seek_done)
        return []

    def take_refilled(self) -> list[tuple[TP, int, int]]:
        """The ranges read back since the last call (the caller has now persisted them)."""
        out, self.refilled = self.refilled, []
        return out

    def check_stuck(self) -> None:
        """Called on a timer: a hole still open after ``stuck_after_s`` restarts the worker even
        when no later message arrives to notice it (the end of a burst of bets)."""
        if self._on_stuck is None or self._generation() != self._seen_generation:
            return
        for tp, since in list(self.seeking.items()):
            if self._clock() - since > self._stuck_after_s:
                self._on_stuck(tp, self.expected.get(tp, -1))
                return

    def _seek_done(self, task: asyncio.Task) -> None:
        self._seeks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("seek back failed; the hole stays until the next rebalance",
                      extra={"error": repr(task.exception())})
