"""The in-memory state cache never outlives the assignment it was filled under."""

from jackpot.streams.statecache import StateCache


class Rebalances:
    def __init__(self) -> None:
        self.count = 0


def test_hit_while_the_assignment_lasts():
    r = Rebalances()
    cache = StateCache(lambda: r.count)
    cache.put(b"a", 1)
    assert cache.get(b"a") == 1
    assert cache.get(b"b") is None


def test_a_rebalance_empties_it():
    r = Rebalances()
    cache = StateCache(lambda: r.count)
    cache.put(b"a", 1)
    r.count += 1
    assert cache.get(b"a") is None
    assert len(cache) == 0


def test_a_value_computed_across_a_rebalance_is_not_kept():
    r = Rebalances()
    cache = StateCache(lambda: r.count)
    assert cache.get(b"a") is None  # a batch starts under one assignment ...
    r.count += 1  # ... a rebalance starts while it runs ...
    cache.put(b"a", 1)  # ... so its result is not trusted
    assert cache.get(b"a") is None
    cache.put(b"a", 2)  # the next batch runs wholly under the new assignment
    assert cache.get(b"a") == 2


def test_clear_after_a_failed_batch():
    r = Rebalances()
    cache = StateCache(lambda: r.count)
    cache.put(b"a", 1)
    cache.clear()
    assert cache.get(b"a") is None
