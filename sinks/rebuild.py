"""Live values from PostgreSQL, for rebuilding Redis (spec: Redis is always derived from PostgreSQL).

The owner of ``sinks/live.py`` writes these into Redis after a Redis restart, before replaying the
topics from their committed offsets (a newer PoolUpdated then wins on its sequence).
"""

from __future__ import annotations

from typing import Any

import asyncpg

POOLS_SQL = """
SELECT DISTINCT ON (jackpot_id, level_id, currency)
       jackpot_id, level_id, currency::text AS currency, current_amount, visible_amount, display_state,
       cycle_number, sequence, snapshot_ts
FROM pool_snapshots WHERE ($1::text IS NULL OR jackpot_id = $1)
ORDER BY jackpot_id, level_id, currency, sequence DESC NULLS LAST, snapshot_ts DESC
"""
WARN_SQL = """
SELECT DISTINCT ON (jackpot_id, level_id, currency)
       jackpot_id, level_id, currency::text AS currency, new_state, cycle_number, changed_at
FROM warn_state_changes WHERE kind = 'state' AND ($1::text IS NULL OR jackpot_id = $1)
ORDER BY jackpot_id, level_id, currency, changed_at DESC
"""
WINNERS_SQL = """
SELECT jackpot_id, level_id, currency::text AS currency, winner_player_id, winner_game_id, win_amount, hit_at
FROM (SELECT h.*, row_number() OVER (PARTITION BY jackpot_id, level_id, currency ORDER BY hit_at DESC) AS n
      FROM hits h WHERE ($1::text IS NULL OR jackpot_id = $1)) x
WHERE n <= $2 ORDER BY jackpot_id, level_id, currency, hit_at DESC
"""


async def live_values(conn: asyncpg.Connection, jackpot_id: str | None = None, last_winners: int = 25) -> dict[str, Any]:
    """{"pools": [...], "warn": [...], "winners": [...]} (amounts Decimal, player ids unmasked:
    the Redis writer masks them)."""
    return {
        "pools": [dict(r) for r in await conn.fetch(POOLS_SQL, jackpot_id)],
        "warn": [dict(r) for r in await conn.fetch(WARN_SQL, jackpot_id)],
        "winners": [dict(r) for r in await conn.fetch(WINNERS_SQL, jackpot_id, last_winners)],
    }
