"""Mystery jackpots as players see them (spec: "Player doesn't know which level they're playing for
until win. All levels active but only winning level revealed on drop. Single unified ticker").

The gateway keeps every level's value as it does for any jackpot; only what leaves it changes. A
mystery jackpot shows one ticker per currency, under the placeholder level ``MYSTERY_LEVEL``: the
sum of its levels' displayed amounts, the most urgent of their states, and the newest of their
sequences (a level's PoolUpdated carries the jackpot's input sequence, so the unified ticker never
moves backwards). Warn and reseed frames name the placeholder instead of the level, a level's own
state changes are not shown, and the listing names no level. A win frame is the one place a
level is named: the spec reveals the winning level on the drop.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

MYSTERY_LEVEL = "mystery"
PUBLIC_LEVEL = {"level_id": MYSTERY_LEVEL, "name": "?", "display_order": 1, "icon": None, "min_bet": None,
                "range": None}
STATE_RANK = {"normal": 0, "warn": 1, "critical": 2}


def unified_view(jackpot_id: str, currency: str, levels: Iterable[dict]) -> dict | None:
    """The one ticker of a mystery jackpot in ``currency`` from its levels' public pool views."""
    views = list(levels)
    if not views:
        return None
    return {
        "jackpot_id": jackpot_id,
        "level_id": MYSTERY_LEVEL,
        "currency": currency,
        "visible_amount": str(sum((Decimal(v["visible_amount"]) for v in views), Decimal(0))),
        "state": max((v["state"] for v in views), key=lambda s: STATE_RANK.get(s, 0)),
        "sequence": max(v["sequence"] for v in views),
        "timestamp": max(v["timestamp"] for v in views),
    }


def masked(event: dict) -> dict:
    """A warn or reseed frame's record with the level replaced by the placeholder."""
    return dict(event, level_id=MYSTERY_LEVEL)
