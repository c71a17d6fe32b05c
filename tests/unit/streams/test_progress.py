"""Progress of owned input partitions (streams/progress.py): judged on committed offsets against
end offsets, so an agent that stopped applying is seen even while its consumer keeps fetching."""

from jackpot.streams.progress import ProgressWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_partition_with_messages_waiting_and_an_unmoved_commit_is_stalled_after_the_limit():
    clock = Clock()
    watch = ProgressWatch(60, clock)
    watch.observe({("bets", 7): (100, 109), ("bets", 6): (50, 80)})
    clock.now = 30
    watch.observe({("bets", 7): (100, 109), ("bets", 6): (70, 90)})  # 6 moves, 7 does not
    assert watch.stalled() == []
    clock.now = 65
    watch.observe({("bets", 7): (100, 109), ("bets", 6): (90, 95)})
    assert watch.stalled() == [("bets", 7)]
    assert watch.unmoved_for()[("bets", 7)] == 65 and watch.unmoved_for()[("bets", 6)] == 0


def test_caught_up_quiet_partitions_are_never_stalled_and_a_new_message_starts_the_count():
    clock = Clock()
    watch = ProgressWatch(60, clock)
    for t in range(0, 600, 10):
        clock.now = t
        watch.observe({("bets", 0): (500, 500), ("player-profiles", 0): (None, 0)})
    assert watch.stalled() == []
    watch.observe({("bets", 0): (500, 501)})  # a message arrives at 590
    clock.now = 640
    watch.observe({("bets", 0): (500, 501)})
    assert watch.stalled() == []
    clock.now = 651
    assert watch.stalled() == [("bets", 0)]


def test_a_never_committed_partition_with_messages_stalls_and_a_rebalance_resets():
    clock = Clock()
    watch = ProgressWatch(10, clock)
    watch.observe({("bets", 3): (None, 40)})
    clock.now = 11
    watch.observe({("bets", 3): (None, 40)})
    assert watch.stalled() == [("bets", 3)]
    watch.reset()
    assert watch.stalled() == []
    watch.observe({("bets", 4): (0, 3)})  # partitions moved away are forgotten
    assert list(watch.unmoved_for()) == [("bets", 4)]
