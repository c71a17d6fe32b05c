"""Live values from PostgreSQL, for rebuilding Redis (spec: Redis is always derived from PostgreSQL).

The owner of ``sinks/live.py`` writes these into Redis after a Redis restart, before replaying the
topics from their committed offsets (a newer PoolUpdated then wins on its sequence).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from jackpot.engine.money import from_micros

POOLS_SQL = """
SELECT DISTINCT ON (jackpot_id, level_id, currency)
       jackpot_id, level_id, currency::text AS currency, current_amount, visible_amount, display_state,
       cycle_number, sequence, snapshot_ts
FROM pool_snapshots WHERE ($1::text[] IS NULL OR jackpot_id = ANY($1))
ORDER BY jackpot_id, level_id, currency, sequence DESC NULLS LAST, snapshot_ts DESC
"""
WARN_SQL = """
SELECT DISTINCT ON (jackpot_id, level_id, currency)
       jackpot_id, level_id, currency::text AS currency, new_state, cycle_number, changed_at
FROM warn_state_changes WHERE kind = 'state' AND ($1::text[] IS NULL OR jackpot_id = ANY($1))
ORDER BY jackpot_id, level_id, currency, changed_at DESC
"""
WINNERS_SQL = """
SELECT jackpot_id, level_id, currency::text AS currency, winner_player_id, winner_game_id, win_amount, hit_at
FROM (SELECT h.*, row_number() OVER (PARTITION BY jackpot_id, level_id, currency ORDER BY hit_at DESC) AS n
      FROM hits h WHERE ($1::text[] IS NULL OR jackpot_id = ANY($1))) x
WHERE n <= $2 ORDER BY jackpot_id, level_id, currency, hit_at DESC
"""


RECENT_WINS = 100
# The JackpotWon events themselves (same ids as on the jackpot-won topic, so the feed's dedupe
# holds when the live sink later sees one of them again).
WON_SQL = """
SELECT event_id, event_ts, jackpot_id, level_id, currency::text AS currency, payload FROM engine_events
WHERE event_type = 'JackpotWon' AND ($1::text[] IS NULL OR jackpot_id = ANY($1))
ORDER BY event_ts DESC LIMIT $2
"""
STATES_SQL = """
SELECT DISTINCT ON (jackpot_id, coalesce(level_id, '')) jackpot_id, level_id, new_state, changed_at
FROM jackpot_state_changes WHERE ($1::text[] IS NULL OR jackpot_id = ANY($1))
ORDER BY jackpot_id, coalesce(level_id, ''), changed_at DESC
"""


async def live_values(conn: asyncpg.Connection, jackpot_ids: str | list[str] | None = None,
                      last_winners: int = 25) -> dict[str, Any]:
    """{"pools": [...], "warn": [...], "winners": [...], "states": [...]} (amounts Decimal, player
    ids unmasked: the Redis writer masks them), for one jackpot, a list of them, or all."""
    jackpot_id = [jackpot_ids] if isinstance(jackpot_ids, str) else jackpot_ids
    return {
        "pools": [dict(r) for r in await conn.fetch(POOLS_SQL, jackpot_id)],
        "warn": [dict(r) for r in await conn.fetch(WARN_SQL, jackpot_id)],
        "winners": [dict(r) for r in await conn.fetch(WINNERS_SQL, jackpot_id, last_winners)],
        "states": [dict(r) for r in await conn.fetch(STATES_SQL, jackpot_id)],
        "won": [dict(r) for r in await conn.fetch(WON_SQL, jackpot_id, RECENT_WINS)],
    }


def as_events(values: dict[str, Any]) -> dict[str, list[dict]]:
    """The rows of ``live_values`` in the shapes the live sink writes from events, so a rebuild
    goes through the same guarded writes (a newer event on the topics still wins)."""
    pools = [{"jackpot_id": r["jackpot_id"], "level_id": r["level_id"], "currency": r["currency"],
              "visible_amount": r["visible_amount"], "state": r["display_state"] or "normal",
              "sequence": int(r["sequence"] or 0), "timestamp": r["snapshot_ts"]} for r in values["pools"]]
    warns = [{"jackpot_id": r["jackpot_id"], "level_id": r["level_id"], "currency": r["currency"],
              "warn_state": r["new_state"], "cycle_number": int(r["cycle_number"] or 0)} for r in values["warn"]]
    wins = []
    for r in reversed(values["won"]):  # oldest first: the feed pushes the newest to the front
        p = json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]
        wins.append({**p, "event_id": str(r["event_id"]), "timestamp": r["event_ts"], "jackpot_id": r["jackpot_id"],
                     "level_id": r["level_id"], "currency": r["currency"],
                     "win_amount": from_micros(int(p["win_amount"])),
                     "chain_reaction_winners": [{**c, "amount": from_micros(int(c["amount"]))}
                                                for c in p.get("chain_reaction_winners") or []]})
    states = [{"jackpot_id": r["jackpot_id"], "level_id": r["level_id"], "new_state": r["new_state"],
               "timestamp": r["changed_at"]} for r in values["states"]]
    return {"pools": pools, "warns": warns, "wins": wins, "states": states}
