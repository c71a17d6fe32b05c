"""Delivery futures of records handed to the producer, awaited only where something must follow them.

The agents hand their outputs (contribution batches, ledger entries, engine events) to the
producer and go on to the next batch; what must come after those outputs are on the broker (the
table values and players that record them, written before each offset commit) waits for all of
them at once.  A failed delivery is never dropped unseen: it raises at the latest there, and
earlier when the confirmed futures are pruned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

PRUNE_EVERY = 512  # futures kept before the confirmed ones are dropped


class Deliveries:
    """The records handed to the producer and not yet known to be on the broker."""

    def __init__(self, on_failure: Callable[[BaseException], None] | None = None) -> None:
        self._pending: list[asyncio.Future] = []
        self._on_failure = on_failure

    def add(self, futures: Iterable[asyncio.Future]) -> None:
        """Track ``futures`` (``on_failure`` hears of a failed one as soon as it fails); now and
        then drop the confirmed ones, raising a failed delivery."""
        futures = list(futures)
        if self._on_failure is not None:
            for fut in futures:
                fut.add_done_callback(self._check)
        self._pending.extend(futures)
        if len(self._pending) >= PRUNE_EVERY:
            kept = []
            for fut in self._pending:
                if not fut.done():
                    kept.append(fut)
                else:
                    fut.result()  # a failed delivery raises here, in the agent that sent it
            self._pending = kept

    def _check(self, fut: asyncio.Future) -> None:
        if not fut.cancelled() and fut.exception() is not None and self._on_failure is not None:
            self._on_failure(fut.exception())

    async def settle(self) -> None:
        """Wait until every tracked record is on the broker; raise if one failed.  A cancelled
        wait (the worker stopping) cancels none of them and keeps them tracked for the next."""
        pending = list(self._pending)
        try:
            await self.settle_all(pending)
        finally:
            settled = {f for f in pending if f.done()}
            self._pending = [f for f in self._pending if f not in settled]

    def take(self) -> list[asyncio.Future]:
        """Stop tracking the records handed over so far; the caller settles them (``settle_all``)."""
        pending, self._pending = self._pending, []
        return pending

    @staticmethod
    async def settle_all(futures: list[asyncio.Future]) -> None:
        """Wait for ``futures`` without cancelling any if the wait is cancelled; raise a failure."""
        if futures:
            await asyncio.wait(futures)
            for fut in futures:
                fut.result()

    def forget(self) -> None:
        """Stop tracking (the work that produced them was given up); they may still be delivered."""
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)
