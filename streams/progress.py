"""Is every input partition this worker owns moving?

A consumer's fetch position says what it has read, not what it has applied and committed: a
partition whose agent stopped (a crash, a wait that never ends, a commit that cannot pass an
offset) keeps a position at its end while its committed offset stays put, and the messages after
it are never applied.  So progress is judged on committed offsets, read from the broker (the
group's offsets, whoever committed them), against end offsets: a partition with messages waiting
whose committed offset has not moved for ``stall_after_s`` is stalled, and a worker with a
stalled partition is not ready.  The same figures give the consumer-lag metric.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Mapping

from aiokafka.admin import AIOKafkaAdminClient

from jackpot.settings import Settings
from jackpot.streams.kafka import client_options

Offsets = Mapping[Hashable, tuple[int | None, int | None]]  # partition -> (committed, end)


@dataclass
class _Track:
    committed: int | None
    since: float  # when the committed offset last moved, or the partition last had nothing waiting
    waiting: bool


class ProgressWatch:
    """Pure bookkeeping: feed it (committed, end) per owned partition now and then."""

    def __init__(self, stall_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after_s = stall_after_s
        self.clock = clock
        self._tracks: dict[Hashable, _Track] = {}

    def observe(self, offsets: Offsets) -> None:
        now = self.clock()
        for tp in [tp for tp in self._tracks if tp not in offsets]:  # moved away by a rebalance
            del self._tracks[tp]
        for tp, (committed, end) in offsets.items():
            waiting = end is not None and end > (committed or 0)
            track = self._tracks.get(tp)
            if track is None or track.committed != committed or not waiting or not track.waiting:
                self._tracks[tp] = _Track(committed, now, waiting)

    def reset(self) -> None:
        """A rebalance: the new assignment starts with a clean slate."""
        self._tracks.clear()

    def unmoved_for(self) -> dict[Hashable, float]:
        """Seconds each partition with messages waiting has kept the same committed offset."""
        now = self.clock()
        return {tp: (now - t.since if t.waiting else 0.0) for tp, t in self._tracks.items()}

    def stalled(self) -> list[Hashable]:
        return [tp for tp, s in self.unmoved_for().items() if s >= self.stall_after_s]


class GroupOffsets:
    """The group's committed offsets, from the broker, through a client of its own (Faust's
    consumer thread is busy fetching; see streams/refill.py)."""

    def __init__(self, settings: Settings, group: str) -> None:
        self.settings = settings
        self.group = group
        self._admin: AIOKafkaAdminClient | None = None

    async def committed(self, partitions: list[Any]) -> dict[Any, int | None]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**client_options(self.settings))
            await admin.start()
            self._admin = admin
        found = await self._admin.list_consumer_group_offsets(self.group, partitions=list(partitions))
        out = {}
        for tp in partitions:
            meta = found.get(tp)
            out[tp] = meta.offset if meta is not None and meta.offset >= 0 else None
        return out

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
