"""The consumer's fetch loop (``StrictConsumer._drain_messages``): fetched messages reach the
agents' queues in runs, not one per event-loop pass, and it keeps Faust's bookkeeping (read
offsets, gaps, the suspended-flow path)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP

from jackpot.streams.transport import ReadOffsets, StrictConsumer

TOPIC = TP("bets", 0)


class FakeConsumer:
    """What the fetch loop touches of Faust's consumer: one fetch of ``records``, then a stop."""

    consumer_stopped_errors = (RuntimeError,)

    def __init__(self, records: list, acking: bool = True) -> None:
        self.records = records
        self.delivered: list[int] = []
        self.gaps: list[tuple] = []
        self.first_paths: int = 0  # deliveries that went through wait_first
        self._stopped = asyncio.Event()
        self.fetcher = SimpleNamespace(_stopped=asyncio.Event())
        self.suspend_flow = asyncio.Event()
        self._read_offset = ReadOffsets()
        self._commit_every = None
        self._n_acked = 0
        self.should_stop = False
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: acking))
        self.transport = SimpleNamespace(app=SimpleNamespace(should_stop=False))
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)

    async def callback(self, message) -> None:
        self.delivered.append(message.offset)

    async def getmany(self, timeout: float):
        self.fetcher._stopped.set()  # one fetch, then the loop ends
        for offset in self.records:
            yield TOPIC, SimpleNamespace(offset=offset, topic=TOPIC.topic)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_first(self, *coros):
        """mode's Service.wait_first: a task per awaitable, the first to finish wins."""
        self.first_paths += 1
        tasks = [asyncio.ensure_future(c) for c in coros]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()

    async def _add_gap(self, tp, start: int, end: int) -> None:
        self.gaps.append((tp, start, end))

    async def commit(self) -> None:  # pragma: no cover - commit_every is off here
        pass


async def _passes_seen(drain, consumer: FakeConsumer) -> list[int]:
    """Run the fetch loop beside a task that notes, at every event-loop pass, how many messages
    had been delivered; return those counts."""
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(len(consumer.delivered))
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(watch())
    await drain(consumer, consumer.fetcher)
    watcher.cancel()
    return seen


async def test_fetched_messages_reach_the_agents_in_runs_not_one_per_loop_pass():
    consumer = FakeConsumer(list(range(250)))
    seen = await _passes_seen(StrictConsumer._drain_messages, consumer)
    assert consumer.delivered == list(range(250))
    assert consumer.first_paths == 0
    runs = [b - a for a, b in zip(seen, seen[1:]) if b > a]
    assert max(runs) >= 100  # a run of deliveries between two passes of the other tasks


async def test_faust_own_loop_delivers_one_message_per_loop_pass():
    """Why the override exists: the same fetch through faust-streaming's loop."""
    consumer = FakeConsumer(list(range(250)))
    seen = await _passes_seen(FaustConsumer._drain_messages, consumer)
    assert consumer.delivered == list(range(250))
    runs = [b - a for a, b in zip(seen, seen[1:]) if b > a]
    assert max(runs) == 1
    assert consumer.first_paths == 250


async def test_a_suspended_flow_delivers_through_wait_first_as_faust_does():
    consumer = FakeConsumer([0, 1, 2])
    consumer.suspend_flow.set()
    await StrictConsumer._drain_messages(consumer, consumer.fetcher)
    assert consumer.first_paths == 3  # the suspension wins each race: nothing waits on a full queue


@pytest.mark.parametrize("acking, gaps", [(True, [(TOPIC, 6, 9)]), (False, [])])
async def test_read_offsets_drop_redeliveries_and_jumps_are_reported_as_gaps(acking, gaps):
    consumer = FakeConsumer([3, 4, 5, 4, 9, 10], acking=acking)
    consumer._read_offset[TOPIC] = 3
    await StrictConsumer._drain_messages(consumer, consumer.fetcher)
    assert consumer.delivered == [3, 4, 5, 9, 10]  # 4 again is below the read offset 5: dropped
    assert consumer.gaps == gaps
    assert consumer._read_offset[TOPIC] == 10


async def test_a_pinned_read_offset_lets_the_refetched_messages_through():
    consumer = FakeConsumer([7, 8, 5, 6])  # 7, 8: a stale batch in hand; 5: the seek target
    consumer._read_offset.pin(TOPIC, 5)
    await StrictConsumer._drain_messages(consumer, consumer.fetcher)
    assert consumer.delivered == [7, 8, 5, 6]
    assert consumer._read_offset[TOPIC] == 6


async def test_stopping_the_fetch_loop_still_cancels_it():
    consumer = FakeConsumer([0, 1])
    blocked = asyncio.Event()

    async def callback(message) -> None:
        blocked.set()
        await asyncio.Event().wait()  # a delivery that never completes

    consumer.callback = callback
    loop_task = asyncio.ensure_future(StrictConsumer._drain_messages(consumer, consumer.fetcher))
    await blocked.wait()
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(loop_task, 1)
