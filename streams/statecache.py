"""Parsed jackpot states kept in memory between batches, for the partitions this worker owns.

The table value is the durable truth, but reading it means a RocksDB get, a JSON parse
and rebuilding the state objects on every batch, which dominated the hot path.  The
jackpot agent is the only writer of its jackpots, so after it has persisted a value the
objects it holds are exactly what the table holds, and the next batch can start from them.

The cache is only valid while the assignment it was filled under lasts: any rebalance
(which may move a partition away and back, with another worker writing in between) and
any failed batch (whose objects may hold changes that were never persisted) empties it.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

V = TypeVar("V")


class StateCache(Generic[V]):
    """Values by key, dropped whenever ``generation()`` changes (a rebalance happened)."""

    def __init__(self, generation: Callable[[], Any]) -> None:
        self._generation = generation
        self._seen = generation()
        self._values: dict[bytes, V] = {}

    def _check(self) -> bool:
        """True when the assignment is the one the cache was filled under."""
        current = self._generation()
        if current != self._seen:
            self._values.clear()
            self._seen = current
            return False
        return True

    def get(self, key: bytes) -> V | None:
        self._check()
        return self._values.get(key)

    def put(self, key: bytes, value: V) -> None:
        """Keep ``value`` unless a rebalance started since the last access: a value
        computed across a rebalance is not trusted, the next batch reads the table."""
        if self._check():
            self._values[key] = value

    def clear(self) -> None:
        self._values.clear()

    def values(self) -> list[V]:
        """What is cached under the current assignment (for metrics)."""
        self._check()
        return list(self._values.values())

    def __len__(self) -> int:
        return len(self._values)
