"""Faust's Kafka consumer with one rule made strict: never commit past a message not yet acked.

faust-streaming 0.15 commits the longest run of acked offsets, but lets a run start one past the
committed offset (faust #606): when the head message is still in flight, or was dropped from an
agent's buffer by the recovery race of faust #596, its offset is committed over, and after the
next crash that message is never seen again.  Here the head must be acked (or be a real hole in
the topic, which faust records as a gap, as compaction leaves) before anything after it is
committed.  A dropped head then stalls the commit instead of losing the message, and the agents'
``GapGuard`` (streams/gaps.py) notices the hole and seeks back so it is delivered again; the
read offsets are pinned across a seek (:class:`ReadOffsets`) so the re-fetched messages are not
dropped as "already read", which is how the holes appear in the first place.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any, Awaitable, Callable, Iterable, Optional, Set

import faust
from faust.transport.consumer import CONSUMER_FETCHING as FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.exceptions import ProducerSendError
from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from jackpot.streams.lease import MembershipLease

log = logging.getLogger(__name__)


class ReadOffsets(defaultdict):
    """Faust's per-partition "read offset", which its fetch loop uses to drop messages it thinks
    it has already delivered ("DROPPED MESSAGE ROFF").

    After a seek (Faust's own to the committed offsets after a rebalance, or a gap guard's), the
    fetch batch already in hand is still delivered and would raise the read offset back above
    the seek target, so the re-fetched messages are then dropped as "already read": the holes of
    faust #596.  Here a seek pins the read offset until the message at the target arrives; the
    stale messages in between still pass (offset >= target) and the agents' gap guard holds them
    back until the hole is refilled.
    """

    def __init__(self) -> None:
        super().__init__(lambda: None)
        self.pinned: dict[Any, Optional[int]] = {}

    def pin(self, tp: Any, offset: Optional[int]) -> None:
        self.pinned[tp] = offset
        super().__setitem__(tp, offset)

    def __setitem__(self, tp: Any, offset: Optional[int]) -> None:
        if tp in self.pinned:
            target = self.pinned[tp]
            if target is not None and offset != target:
                return  # a message from before the seek: keep the seek target
            del self.pinned[tp]
        super().__setitem__(tp, offset)

    def update(self, other: Any = (), **kw: Any) -> None:  # Faust's perform_seek: one pin per partition
        for tp, offset in dict(other, **kw).items():
            self.pin(tp, offset)

    def __delitem__(self, tp: Any) -> None:
        self.pinned.pop(tp, None)
        super().__delitem__(tp)

    def pop(self, tp: Any, *default: Any) -> Any:
        self.pinned.pop(tp, None)
        return super().pop(tp, *default)


class StrictConsumer(driver.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_offset = ReadOffsets()
        self._acks_generation: Any = None  # the assignment the acks counted belong to
        # how long the jackpot agent may still write as the owner of its partitions (streams/lease.py)
        self.lease = MembershipLease(float(self.app.conf.broker_session_timeout))

    def _new_offset(self, tp: TP) -> Optional[int]:
        acked = self._acked[tp]
        committed = self._committed_offset.get(tp)
        if acked and committed is not None and min(acked) > committed:
            gaps = self._gap.get(tp)
            if not gaps or not gaps.overlaps(committed):
                return None  # the message at the committed offset is not done: commit nothing yet
        return super()._new_offset(tp)

    async def _commit_tps(self, tps: Iterable[TP], start_new_transaction: bool) -> bool:
        """Commit only what the app has saved: its agents keep their table writes in memory between
        commits (streams/worker.py), so first, with every agent between batches (``app.writes``),
        the app takes them (``app.checkpoint``: the task writing them, or None) and the offsets to
        commit are taken before the agents go on, so none of them can belong to an input applied
        after.  The offsets are committed once those writes are on the broker; a save that fails
        (the membership is lost) commits nothing."""
        app = self.app
        async with app.writes:
            if app.consumer_generation_id != self._acks_generation:
                return False  # a new assignment whose acks of the last one are not cleared yet
            saved = await app.checkpoint()
            if saved is None:
                return False
            offsets = self._filter_committable_offsets(tps)
        # the save's writes go out while the agents go on; a stop cancelling this commit leaves
        # them going (shield), and the next commit takes offsets again
        if not await asyncio.shield(saved) or not offsets:
            return False
        try:
            await self._handle_attached(offsets)
        except ProducerSendError as exc:
            await self.crash(exc)
            return False
        return await self._commit_offsets(offsets, start_new_transaction=start_new_transaction)

    def ack(self, message: Any) -> bool:
        """Count an ack only for a message fetched under the current assignment.

        A rebalance forgets what was acked, seeks every kept partition back to its committed
        offset and delivers it again; but an agent may still finish messages it took before,
        and Faust would record their offsets in the new assignment's books. The commit could
        then move over offsets whose new deliveries were not applied yet (lost if the worker
        died then), or over messages an agent discarded as no longer its own. Those acks only
        release the message; the new delivery of the same offset is what counts.
        """
        generation = getattr(message, "generation_id", None)
        if generation is not None and generation != self.app.consumer_generation_id:
            self.release([message])
            return False
        return super().ack(message)

    def release(self, messages: Iterable[Any]) -> None:
        """Let go of messages without counting them as acked: a rebalance waits for every message
        in flight, and an agent that gives a batch up unapplied must not make it wait forever.
        Their offsets are never recorded, so the commit cannot pass them; the next owner (or this
        worker, after the rebalance seeks back to the committed offsets) gets them again."""
        with ack_lock:
            for message in messages:
                if not message.acked:
                    message.acked = True
                    self._unacked_messages.discard(message)
            notify(self._waiting_for_ack)

    async def seek(self, partition: TP, offset: int) -> None:
        """Seek from inside the consumer's own thread.

        Faust's aiokafka driver runs the client in a thread with its own event loop, but its
        ``seek`` calls into that client from the caller's thread, where aiokafka's fetcher is
        neither woken nor safely updated, and the seek can be lost.  This one is queued to
        the consumer thread like Faust's own ``seek_to_committed``.
        """
        thread = self._thread
        client = thread._ensure_consumer()

        async def _seek() -> None:
            client.seek(partition, offset)

        self._read_offset.pin(partition, offset if offset else None)
        await thread.call_thread(_seek)

    async def perform_seek(self) -> None:
        """Seek every assigned input partition back to where the group resumes it (its committed
        offset, else its log start), and keep the flow stopped until Faust resumes it.

        Faust calls this as a recovery completes, in this order: resume fetching the input
        partitions (the fetcher already runs when there were changelogs to read), seek to the
        committed offsets, clear every agent's buffer (``flow_control.resume()``), resume the
        flow.  What was fetched before the clear is thrown away, and the seek is what brings it
        back.  But aiokafka's ``seek_to_committed`` leaves a partition without a committed offset
        (or committed at 0) where the fetcher got to, and whatever is delivered between the seek
        and the clear is thrown away too.  Such a partition then went on after the discarded
        messages; the gap guard sees a hole only when a later message arrives, and when they were
        the end of the partition (a worker whose recovery ended after the bets were produced,
        on fresh topics) none ever did: the partition was never applied, its commit stuck.

        Here the flow stops first, so nothing is fetched or delivered until Faust resumes it right
        after the clear, and the partitions never committed start over at their log start.  If
        the seek is abandoned for another rebalance, that rebalance stops the flow as well and
        the recovery after it resumes it.  (Faust's fetch loop also calls this, with the flow
        already stopped, for a batch fetched just before a stop: seeking back only re-delivers.)
        """
        self.stop_flow()
        thread = self._thread
        committed = await self.seek_to_committed()  # moves only the partitions committed past 0
        fresh = [tp for tp, offset in committed.items()
                 if not (offset and offset > 0) and not self._is_changelog_tp(tp)]
        if fresh:
            await thread.call_thread(_seek_to_log_start, thread._ensure_consumer(), fresh)
        # as Faust's own perform_seek from here
        self._read_offset.update({tp: offset if offset is not None and offset >= 0 else None
                                  for tp, offset in committed.items()})
        self._committed_offset.update({TP(tp.topic, tp.partition): offset if offset else None
                                       for tp, offset in committed.items() if offset is not None})
        await self._reseek_standbys()

    async def _reseek_standbys(self) -> None:
        """Seek each standby changelog partition back to the record after the last one its
        recovery read.  Stopping the flow makes Faust's fetch loop throw away the rest of the batch
        in hand, standby records included, and the fetch position is already past them: without
        this their standby would go on after the hole and persist an offset past it (read again,
        the records it already has are skipped by their offsets).  A standby that has read nothing
        yet (-1: an empty store, log start 0) goes back to 0: its first batch is the one at risk."""
        recovery = self.app.tables.recovery
        positions = {tp: offset + 1 for tp in recovery.standby_tps
                     if (offset := recovery.standby_offsets.get(tp)) is not None}
        if not positions:
            return
        for tp, offset in positions.items():
            self._read_offset.pin(tp, offset)  # 0 too: a stale offset of the batch thrown away must not stick
        await self._thread.call_thread(_seek_each, self._thread._ensure_consumer(), positions)

    def verify_event_path(self, now: float, tp: TP) -> None:
        """Faust's livelock diagnostics (logging only) read aiokafka's position of ``tp``, which
        asserts while a seek's reset is pending; that took the whole consumer down (a crash seen
        in the frozen-worker test). A partition caught mid-seek is checked next time instead."""
        try:
            return super().verify_event_path(now, tp)
        except AssertionError:
            return None

    async def _drain_messages(self, fetcher: Any) -> None:
        """Faust's fetch loop, which hands each fetched message to the agents' queues, with one
        cost taken out of it.

        faust-streaming 0.15 delivers every message through ``wait_first(callback(message),
        suspend_flow.wait())``: two tasks and a full event-loop pass per message, so that a
        delivery blocked on a full agent queue can be abandoned when a rebalance suspends the
        flow.  Besides its CPU (about 30 us a message), the pass per message made the agents'
        queues fill one message at a time: an agent woke up to batches of one or two events
        however many were waiting in the fetched records, paid its per-batch costs per bet, and
        at a quarter of its backlog capacity fell behind for good (docs: README "Benchmarks").
        Here a message is delivered with a plain await while the flow runs (the callback then
        returns without suspending unless the agent's queue is full: the conductor then waits for
        put tasks of its own, which a rebalance's queue clear cancels, and it returns), and
        through ``wait_first`` as before once a suspension has begun.  A delivery already waiting
        when a suspension begins is no longer abandoned at once: it ends with the clear, or with
        the flow's resumption, and what it delivers late belongs to the old assignment (skipped by
        the generation checks, as with Faust's own loop, whose abandoned put tasks also complete).
        The loop still yields to the event loop every 100 messages, as Faust's does; gaps, read
        offsets (pinned across seeks, :class:`ReadOffsets`) and ``commit_every`` are handled as in
        Faust's loop.
        """
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        suspended = self.suspend_flow.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(FETCHING)
                records = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany may return at once, again and again
                if not self.should_stop:
                    async for tp, message in records:
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        read = get_read_offset(tp)
                        if read is not None and offset < read:
                            continue  # delivered already (Faust's "DROPPED MESSAGE ROFF")
                        if read and offset - read > 1 and acks_enabled_for(message.topic):
                            await self._add_gap(tp, read + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if suspended():
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        else:
                            await callback(message)
                        set_read_offset(tp, offset)
                self.diag.unset_flag(FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                log.info("broker stopped the consumer as the worker stops")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        except Exception as exc:
            log.exception("fetch loop failed", extra={"error": repr(exc)})
            raise
        finally:
            self.diag.unset_flag(FETCHING)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust records a jump in fetched offsets as a hole in the topic and later commits over it.

        Real holes only exist in compacted topics.  In any other topic a jump means messages were
        lost on their way to the agent (a stale fetch after a seek looks exactly like that), and
        committing over them would lose them for good, so they are not recorded.
        """
        if tp.topic in getattr(self.app, "compacted_topics", ()):
            await super()._add_gap(tp, offset_from, offset_to)

    async def on_partitions_assigned(self, assigned: Set[TP], generation_id: int = 0) -> None:
        # Nothing acked under an earlier assignment counts: Faust forgets acks as the revocation
        # starts, but the agents finish their batches after that (``stream_wait_empty``), and when
        # the save before the revocation's commit was refused their writes were dropped: those
        # acks (and ranges marked refilled) would otherwise be committed in this assignment.
        # The partitions are delivered again from their committed offsets.
        self._acked.clear()
        self._acked_index.clear()
        self._gap.clear()
        self._acks_generation = self.app.consumer_generation_id
        # the group has just confirmed this member: a fresh lease, renewed by every heartbeat from here
        self.lease.watch(self._thread._ensure_consumer()._coordinator)
        self.lease.renew(self.lease.clock())
        await super().on_partitions_assigned(assigned, generation_id)
        by_topic: dict[str, list[int]] = {}
        for tp in assigned:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        log.info("partitions assigned", extra={"generation": generation_id,
                                               "partitions": {t: sorted(p) for t, p in sorted(by_topic.items())}})

    def mark_refilled(self, tp: TP, start: int, end: int) -> None:
        """Offsets ``start`` .. ``end - 1`` were read back by the gap guard and are now persisted:
        the commit may move over them as if they had been acked."""
        if tp in self.assignment():
            tree = self._gap[tp]
            tree.addi(start, end)
            tree.merge_overlaps()

    async def fetch_committed(self, tp: TP) -> Optional[int]:
        """The group's committed offset for ``tp`` as the broker has it (None: never committed),
        for when this member has not loaded it yet."""
        client = self._thread._ensure_consumer()

        async def _committed() -> Optional[int]:
            return await client.committed(tp)

        return await self._thread.call_thread(_committed)

    def committed_offset(self, tp: TP) -> Optional[int]:
        """The offset this member last committed (or found committed) for ``tp``: where reading resumes."""
        return self._committed_offset.get(tp)


class Transport(driver.Transport):
    Consumer = StrictConsumer


async def _nothing_unsaved() -> "asyncio.Future[bool]":
    saved = asyncio.get_running_loop().create_future()
    saved.set_result(True)
    return saved


class JackpotApp(faust.App):
    """A Faust app whose consumer is :class:`StrictConsumer` (producers are Faust's own).

    ``compacted_topics`` names the input topics where compaction leaves real holes.  ``writes`` is
    held by an agent while it applies a batch and by the commit while ``checkpoint`` saves what
    the agents applied since the last commit (True: saved, the commit may go on).
    """

    compacted_topics: frozenset[str] = frozenset()
    checkpoint: Callable[[], Awaitable["asyncio.Future[bool] | None"]] = staticmethod(_nothing_unsaved)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = asyncio.Lock()

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)


async def _seek_each(client: Any, positions: dict) -> None:
    """Seek each partition still assigned (a rebalance may have begun since the caller looked)."""
    assigned = client.assignment()
    for tp, offset in positions.items():
        if tp in assigned:
            client.seek(tp, offset)


async def _seek_to_log_start(client: Any, partitions: list) -> None:
    """Seek ``partitions`` to their log start now: aiokafka's ``seek_to_beginning`` only marks them
    for a reset, and their position is unknown (None) until a fetch resolves it."""
    starts = await client.beginning_offsets(partitions)
    for tp in partitions:
        client.seek(tp, starts[tp])
