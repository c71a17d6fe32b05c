"""What a worker reports to Prometheus about the jackpots it owns (names in jackpot/metrics.py).

Counted from the states the jackpot agent holds in memory (streams/statecache.py), so a scrape
never reads a table or touches a stream.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from jackpot import metrics as M
from jackpot.engine.wins import MANUAL


def pool_state(jackpot_status: str, level_status: str, pool: Any, manual: bool) -> str:
    """One of ``metrics.POOL_STATES`` for a pool."""
    if manual:
        return "pending_manual_resolution"
    if pool.locked:
        return "dropping"
    if pool.closed:
        return "closed"
    if pool.cycle == 0 or jackpot_status == "DRAFT":
        return "draft"
    if jackpot_status == "PAUSED" or level_status == "PAUSED":
        return "paused"
    return "active"


def report_pools(owned: Iterable[tuple[Any, Any]]) -> None:
    """Pools per state and pools at Win Max, over (compiled config, state) pairs."""
    counts: Counter[str] = Counter()
    at_max, every = [], []
    for compiled, state in owned:
        manual = {(w.level_id, w.currency) for w in state.wins.values()
                  if any(c.status == MANUAL for c in w.credits)}
        for pool in state.iter_pools():
            counts[pool_state(state.status, state.level_status.get(pool.level_id, ""), pool,
                              (pool.level_id, pool.currency) in manual)] += 1
            key = (state.jackpot_id, pool.level_id, pool.currency)
            every.append(key)
            limits = compiled.level(pool.level_id).limits.get(pool.currency) if compiled else None
            if limits is not None and pool.visible + pool.hidden >= limits.win_max:
                at_max.append(key)
    M.set_pool_states(counts)
    M.set_pools_at_win_max(at_max, every)
