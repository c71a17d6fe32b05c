"""The gap guard: inputs are applied in order and complete, holes are refilled by seeking back."""

import asyncio
from types import SimpleNamespace

from faust.types import TP

from jackpot.streams.gaps import GapGuard

TP0 = TP("jackpot-contributions", 0)


class Harness:
    def __init__(self, committed=None):
        self.committed = {TP0: committed} if committed is not None else {}
        self.seeks = []
        self.generation = 0
        self.assignment = {TP0}
        self.guard = GapGuard(self.committed.get, self._seek, lambda: self.generation, lambda tp: tp in self.assignment)

    async def _seek(self, tp, offset):
        self.seeks.append((tp.partition, offset))

    def admit(self, *offsets, tp=TP0):
        ev = lambda o: SimpleNamespace(message=SimpleNamespace(tp=tp, offset=o))  # noqa: E731

        async def run():
            out = [await self.guard.admit(ev(o)) for o in offsets]
            await asyncio.sleep(0)  # let the queued seeks run
            return out

        return asyncio.run(run())


def test_in_order_from_the_committed_offset():
    h = Harness(committed=10)
    assert h.admit(10, 11, 12) == [True, True, True]
    assert h.seeks == [] and h.guard.holes == 0


def test_a_hole_is_not_applied_over_and_is_refilled_by_one_seek():
    h = Harness(committed=10)
    assert h.admit(10, 13, 14) == [True, False, False]
    assert h.seeks == [(0, 11)] and h.guard.holes == 1
    assert h.admit(11, 12, 13, 14) == [True, True, True, True]  # redelivered in order
    assert h.admit(15) == [True]


def test_the_first_message_after_an_assignment_must_be_the_committed_one():
    h = Harness(committed=100)
    assert h.admit(103) == [False]  # 100..102 went missing before the agent saw them
    assert h.seeks == [(0, 100)]


def test_replays_below_the_expected_offset_pass_to_the_idempotent_table():
    h = Harness(committed=10)
    h.admit(10, 11)
    assert h.admit(10, 11, 12) == [True, True, True]


def test_a_rebalance_restarts_from_the_committed_offset():
    h = Harness(committed=10)
    h.admit(10, 11, 12)
    h.generation += 1
    h.committed[TP0] = 5
    assert h.admit(5) == [True]


def test_nothing_committed_yet_starts_at_the_first_message():
    h = Harness()
    assert h.admit(0, 1, 3) == [True, True, False]


def test_a_partition_no_longer_assigned_is_never_applied():
    h = Harness(committed=10)
    h.assignment.clear()
    assert h.admit(10) == [False] and h.seeks == []


def _consumer(committed, acked, gaps=()):
    from collections import defaultdict

    from intervaltree import IntervalTree

    from jackpot.streams.transport import StrictConsumer

    c = StrictConsumer.__new__(StrictConsumer)  # only the offset bookkeeping is exercised
    c._acked = defaultdict(list, {TP0: list(acked)})
    c._acked_index = defaultdict(set, {TP0: set(acked)})
    c._committed_offset = {TP0: committed}
    tree = IntervalTree()
    for begin, end in gaps:
        tree.addi(begin, end)
    c._gap = defaultdict(IntervalTree, {TP0: tree})
    return c


def test_the_consumer_never_commits_over_an_unacked_head():
    # faust #606: committed 10, message 10 in flight, 11..13 acked -> Faust alone would commit 14
    assert _consumer(10, [11, 12, 13])._new_offset(TP0) is None
    assert _consumer(10, [10, 11, 12, 14])._new_offset(TP0) == 13
    # a real hole in a compacted topic (recorded as a gap) may still be stepped over
    assert _consumer(10, [11, 12], gaps=[(10, 11)])._new_offset(TP0) == 13


def test_a_seek_pins_the_read_offset_until_its_target_is_delivered():
    from jackpot.streams.transport import ReadOffsets

    r = ReadOffsets()
    r[TP0] = 50  # delivering 50 of a fetched batch
    r.pin(TP0, 10)  # seek back to 10
    r[TP0] = 51  # the rest of the old batch is still delivered ...
    r[TP0] = 52
    assert r[TP0] == 10  # ... but does not make the re-fetched 10.. look "already read"
    r[TP0] = 10  # the target arrives: back to normal
    r[TP0] = 11
    assert r[TP0] == 11 and not r.pinned


def test_faust_perform_seek_pins_every_partition_and_a_revoke_forgets_the_pin():
    from jackpot.streams.transport import ReadOffsets

    r = ReadOffsets()
    r.update({TP0: 263})
    r[TP0] = 331
    assert r[TP0] == 263
    r.pop(TP0, None)
    assert TP0 not in r.pinned and r[TP0] is None


def test_a_hole_the_seek_does_not_refill_restarts_the_worker():
    now = [0.0]
    stuck = []
    h = Harness(committed=10)
    h.guard = GapGuard(h.committed.get, h._seek, lambda: h.generation, lambda tp: True,
                       on_stuck=lambda tp, off: stuck.append(off), stuck_after_s=30, clock=lambda: now[0])
    h.admit(10, 12)
    now[0] = 10.0
    h.admit(13)
    assert stuck == []
    now[0] = 45.0
    h.admit(14)
    assert stuck == [11] and h.seeks == [(0, 11)]


def test_with_nothing_committed_the_log_start_is_expected():
    h = Harness()

    async def earliest(tp):
        return 0

    h.guard = GapGuard(h.committed.get, h._seek, lambda: 0, lambda tp: True, earliest=earliest)
    assert h.admit(5) == [False] and h.seeks == [(0, 0)]  # the first fetch batch went missing


def test_a_stale_fetch_after_a_seek_is_never_recorded_as_a_topic_hole():
    recorded = []

    class App:
        compacted_topics = frozenset({"player-profiles"})

    c = _consumer(126, [126])
    c.app = App()

    async def parent_add_gap(self, tp, a, b):
        recorded.append((tp.topic, a, b))

    import faust.transport.consumer as base

    original = base.Consumer._add_gap
    base.Consumer._add_gap = parent_add_gap
    try:
        asyncio.run(c._add_gap(TP0, 127, 1150))  # a jump on a plain topic: lost messages, not a hole
        asyncio.run(c._add_gap(TP("player-profiles", 0), 5, 9))  # compaction: a real hole
    finally:
        base.Consumer._add_gap = original
    assert recorded == [("player-profiles", 5, 9)]


def test_compacted_inputs_are_not_guarded():
    h = Harness(committed=10)
    h.guard = GapGuard(h.committed.get, h._seek, lambda: 0, lambda tp: True, exempt=lambda tp: True)
    assert h.admit(10, 50) == [True, True] and h.seeks == []


def test_a_hole_left_open_after_the_last_message_is_found_by_the_timer():
    now = [0.0]
    stuck = []
    h = Harness(committed=10)
    h.guard = GapGuard(h.committed.get, h._seek, lambda: 0, lambda tp: True,
                       on_stuck=lambda tp, off: stuck.append(off), stuck_after_s=30, clock=lambda: now[0])
    h.admit(10, 12)  # then no more messages on this partition
    h.guard.check_stuck()
    assert stuck == []
    now[0] = 31.0
    h.guard.check_stuck()
    assert stuck == [11]


class Reading(Harness):
    """A guard that reads holes back from the broker (here: from a dict of the partition's log)."""

    def __init__(self, committed=None, log=range(100), fail=False):
        super().__init__(committed)
        self.log, self.fail, self.reads = set(log), fail, []

        async def reader(topic, partition, start, end):
            self.reads.append((partition, start, end))
            if self.fail or not set(range(start, end)) <= self.log:
                return None
            return [SimpleNamespace(message=SimpleNamespace(tp=TP(topic, partition), offset=o))
                    for o in range(start, end)]

        self.guard = GapGuard(self.committed.get, self._seek, lambda: self.generation,
                              lambda tp: tp in self.assignment, reader=reader)

    def applied(self, *offsets):
        ev = lambda o: SimpleNamespace(message=SimpleNamespace(tp=TP0, offset=o))  # noqa: E731

        async def run():
            return [[x.message.offset for x in await self.guard.admit_all(ev(o))] for o in offsets]

        return asyncio.run(run())


def test_a_hole_is_read_back_and_applied_ahead_of_the_message_that_revealed_it():
    h = Reading(committed=10)
    assert h.applied(10, 14, 15) == [[10], [11, 12, 13, 14], [15]]
    assert h.reads == [(0, 11, 14)] and h.seeks == [] and h.guard.holes == 1
    # the range is done once the agent has persisted it; a late delivery of it is a replay
    assert h.guard.take_refilled() == [(TP0, 11, 14)] and h.guard.take_refilled() == []
    assert h.applied(12, 16) == [[12], [16]]


def test_a_hole_that_cannot_be_read_falls_back_to_seeking():
    h = Reading(committed=10, fail=True)
    assert h.applied(10, 13) == [[10], []]
    assert h.seeks == [(0, 11)] and h.guard.refilled == []


def test_a_rebalance_during_the_read_applies_nothing():
    h = Reading(committed=10)

    async def reader(topic, partition, start, end):
        h.generation += 1
        return []

    h.guard._reader = reader
    assert h.applied(10, 12) == [[10], []]
    assert h.guard.refilled == [] and h.seeks == []


def test_the_consumer_commits_over_a_range_once_it_is_marked_refilled():
    c = _consumer(10, [13, 14])
    assert c._new_offset(TP0) is None  # 10..12 not done
    c.assignment = lambda: {TP0}
    c.mark_refilled(TP0, 10, 13)
    assert c._new_offset(TP0) == 15


def test_an_ack_from_before_a_rebalance_does_not_move_the_new_assignments_commit():
    from types import SimpleNamespace

    class Topics:
        @staticmethod
        def acks_enabled_for(topic):
            return True

    c = _consumer(10, [])
    c.app = SimpleNamespace(consumer_generation_id=2, topics=Topics())
    c._unacked_messages = set()
    c._waiting_for_ack = None
    c._n_acked = 0

    class Message:
        def __init__(self, offset, generation):
            self.tp, self.topic, self.offset = TP0, TP0.topic, offset
            self.acked, self.generation_id = False, generation

    message = Message
    # taken before the rebalance, finished after it: released, not counted
    stale = [message(o, 1) for o in (12, 13)]
    c._unacked_messages.update(stale)
    assert not any(c.ack(m) for m in stale) and all(m.acked for m in stale) and not c._unacked_messages
    assert c._new_offset(TP0) is None
    # the new deliveries count, from the committed offset on
    assert all(c.ack(message(o, 2)) for o in (10, 11))
    assert c._new_offset(TP0) == 12



def test_the_seek_after_a_recovery_stops_the_flow_and_sends_never_committed_inputs_to_their_log_start():
    # Faust resumes fetching the inputs, calls perform_seek, then clears the agents' buffers and
    # resumes the flow: what was fetched before the clear must be fetched again.  aiokafka's
    # seek_to_committed leaves a partition never committed (or committed at 0) where the fetcher
    # got to, and when the discarded messages were its end nothing ever showed the hole.
    from aiokafka import TopicPartition

    from jackpot.streams.transport import ReadOffsets, StrictConsumer

    bets = [TopicPartition("bets", p) for p in range(3)]
    changelog = TopicPartition("app-players-changelog", 0)
    calls = []
    c = StrictConsumer.__new__(StrictConsumer)

    class Client:  # aiokafka's consumer, in the consumer thread
        async def seek_to_committed(self):
            calls.append(("seek_to_committed", c.flow_active))
            return {bets[0]: 120, bets[1]: None, bets[2]: 0, changelog: None}

        async def beginning_offsets(self, tps):
            calls.append(("beginning_offsets", c.flow_active, tuple(tps)))
            return {tp: 5 for tp in tps}

        def seek(self, tp, offset):  # sets the position at once (seek_to_beginning left it unknown)
            calls.append(("seek", tp, offset))

    client = Client()

    class Thread:
        def _ensure_consumer(self):
            return client

        async def call_thread(self, fun, *args):
            return await fun(*args)

        async def seek_to_committed(self):
            return await self.call_thread(client.seek_to_committed)

    c._thread = Thread()
    no_standbys = SimpleNamespace(standby_tps=set(), standby_offsets={})
    c.app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={changelog.topic}, recovery=no_standbys))
    c._read_offset = ReadOffsets()
    c._committed_offset = {}

    async def run():
        c.flow_active, c.can_resume_flow, c.suspend_flow = True, asyncio.Event(), asyncio.Event()
        c.can_resume_flow.set()
        await c.perform_seek()

    asyncio.run(run())
    # the flow stops before anything is sought, and stays stopped: Faust resumes it after the clear
    assert not c.flow_active and c.suspend_flow.is_set() and not c.can_resume_flow.is_set()
    # never committed or committed at 0: the log start; the committed one and the changelog are left
    assert calls == [("seek_to_committed", False), ("beginning_offsets", False, (bets[1], bets[2])),
                     ("seek", bets[1], 5), ("seek", bets[2], 5)]
    # read offsets and committed offsets as Faust's own perform_seek leaves them
    assert c._read_offset[TP("bets", 0)] == 120 and c._read_offset[TP("bets", 1)] is None
    assert c._committed_offset == {TP("bets", 0): 120, TP("bets", 2): None}


def test_the_livelock_diagnostics_skip_a_partition_whose_position_is_being_reset():
    # aiokafka asserts on the position of a partition awaiting a reset; Faust's periodic livelock
    # check read it and the assertion took the whole consumer (and the worker) down
    from jackpot.streams.transport import StrictConsumer

    c = StrictConsumer.__new__(StrictConsumer)

    class Thread:
        def verify_event_path(self, now, tp):
            assert None is not None  # as aiokafka's TopicPartitionState.position does

    c._thread = Thread()
    assert c.verify_event_path(0.0, TP0) is None
