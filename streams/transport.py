"""Faust's Kafka consumer with one rule made strict: never commit past a message not yet acked.

faust-streaming 0.15 commits the longest run of acked offsets, but lets a run start one past the
committed offset (faust #606): when the head message is still in flight, or was dropped from an
agent's buffer by the recovery race of faust #596, its offset is committed over, and after the
next crash that message is never seen again.  Here the head must be acked (or be a real hole in
the topic, which faust records as a gap, as compaction leaves) before anything after it is
committed.  A dropped head then stalls the commit instead of losing the message, and the agents'
``GapGuard`` (streams/gaps.py) notices the hole and seeks back so it is delivered again.
"""

from __future__ import annotations

from typing import Optional

import faust
from faust.transport.drivers import aiokafka as driver
from faust.types import TP


class StrictConsumer(driver.Consumer):
    def _new_offset(self, tp: TP) -> Optional[int]:
        acked = self._acked[tp]
        committed = self._committed_offset.get(tp)
        if acked and committed is not None and min(acked) > committed:
            gaps = self._gap.get(tp)
            if not gaps or not gaps.overlaps(committed):
                return None  # the message at the committed offset is not done: commit nothing yet
        return super()._new_offset(tp)

    def committed_offset(self, tp: TP) -> Optional[int]:
        """The offset this member last committed (or found committed) for ``tp``: where reading resumes."""
        return self._committed_offset.get(tp)


class Transport(driver.Transport):
    Consumer = StrictConsumer


class JackpotApp(faust.App):
    """A Faust app whose consumer is :class:`StrictConsumer` (producers are Faust's own)."""

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
