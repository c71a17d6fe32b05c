"""Top contributors: the ranking the leaderboard tab shows ("ranked by contribution this cycle").

It is read from the active-player window (``engine.activity``), which already holds, per player
and level, what the player put into the level's current cycle and how many qualifying bets that
took. So the ranking costs no extra state, and it covers the players active in the window: a
player who stops betting for longer than the window leaves the ranking with it. Keeping every
player of a cycle would grow the jackpot's changelog record with its player base.

Per player: ``contributed`` is the net contribution summed over the levels, each counted in that
level's current cycle (a level that just dropped starts again from zero); ``bets`` is the most
qualifying bets on any one level this cycle, i.e. the bets that counted for the least demanding
level. Ties go to the player who got there first (earlier last qualifying bet), then by id, so
the order is deterministic for replays.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from .activity import active, level_stats
from .compiled import CompiledJackpot
from .pool import JackpotState

__all__ = ["Contributor", "top_contributors", "LEADERBOARD_SIZE"]

LEADERBOARD_SIZE = 10


@dataclass(frozen=True, slots=True)
class Contributor:
    player_id: str
    bets: int
    contributed: int  # micros


def top_contributors(
    cj: CompiledJackpot, state: JackpotState, now: int, limit: int = LEADERBOARD_SIZE
) -> dict[str, list[Contributor]]:
    """Per currency, the ``limit`` active players who contributed most this cycle, best first."""
    out: dict[str, list[Contributor]] = {}
    for currency, pools in state.pools.items():
        ranked = []
        for pid, rec in active(cj, state, currency, now):
            total = bets = reached_at = 0
            for i, cl in enumerate(cj.levels):
                pool = pools.get(cl.level_id)
                if pool is None:
                    continue
                contributed, qualifying, last_at = level_stats(rec, i, pool.cycle)
                total += contributed
                bets = max(bets, qualifying)
                reached_at = max(reached_at, last_at)
            if total > 0:
                ranked.append((-total, reached_at, pid, bets))
        out[currency] = [Contributor(pid, bets, -neg) for neg, _, pid, bets in heapq.nsmallest(limit, ranked)]
    return out
