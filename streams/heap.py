"""The garbage collector of a long-lived worker: no full-heap pauses on the hot path.

CPython's cyclic collector walks every tracked object in a full (generation 2) collection.  A
ready worker holds its compiled configs, jackpot states and active-player windows, hundreds of
thousands of objects that live as long as their partitions, and on the bench worker each full
collection held the event loop 85-175 ms: every bet arriving then waited behind it, and a queue
built that took seconds to drain.  ``gc.freeze()`` moves the objects alive at that moment out of
the collector's sight (reference counting still frees them), so a full collection walks only
what was created since.  The heap is frozen again now and then (and after every rebalance),
each time after one full collection that also reclaims any cycle among the objects frozen
before, so nothing frozen leaks for longer than one interval.  The young generation's threshold
is raised so that the short-lived objects of each batch are collected in fewer passes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def tune() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)


def refreeze() -> float:
    """Collect everything, the formerly frozen objects included, then freeze what is left; the
    seconds the pause took."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


async def keep_frozen(ready: Callable[[], bool], generation: Callable[[], Any], interval_s: float,
                      settle_s: float = 30.0, poll_s: float = 1.0) -> None:
    """Freeze the heap once the worker is ready, again ``settle_s`` later (the jackpot states are
    loaded by the first batches), after every rebalance, and every ``interval_s``."""
    frozen_in, due = None, 0.0
    while True:
        await asyncio.sleep(poll_s)
        if not ready():
            continue
        now = time.monotonic()
        if generation() != frozen_in:
            frozen_in, due = generation(), now + settle_s
        elif now < due:
            continue
        else:
            due = now + interval_s
        pause = refreeze()
        log.info("heap frozen", extra={"pause_ms": round(pause * 1000, 1), "frozen": gc.get_freeze_count()})
