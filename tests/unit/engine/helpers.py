"""Builders for engine tests: a valid baseline config that each test bends one way."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from jackpot.engine import Bet, Jackpot, compile_jackpot, new_jackpot_state
from jackpot.engine.catalog import CURACAO
from jackpot.engine.lifecycle import activate
from jackpot.engine.rng import master_seed_source

NS = uuid.UUID("5b0e3f0a-3c1e-4c59-9d59-0d7f3f0e9a11")
BRAND = "brand-1"
MASTER = b"test-master-key-0123456789abcdef"
JACKPOT_ID = str(uuid.uuid5(NS, "jackpot"))


def lid(name: str) -> str:
    return str(uuid.uuid5(NS, f"level/{name}"))


def level(name: str, order: int, split: str, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "level_id": lid(name),
        "name": name,
        "display_order": order,
        "contribution_split": split,
        "seed_from": "100",
        "seed_to": "200",
        "win_from": "1000",
        "win_to": "2000",
        "win_max": "2500",
    }
    d.update(kw)
    return d


def classic_levels(**common: Any) -> list[dict[str, Any]]:
    """Grand/Major/Minor/Mini at the spec's 40/25/20/15."""
    return [
        level("Grand", 1, "0.40", seed_from="5000", seed_to="8000", win_from="30000", win_to="50000", win_max="60000", **common),
        level("Major", 2, "0.25", seed_from="500", seed_to="800", win_from="2500", win_to="5000", win_max="6000", **common),
        level("Minor", 3, "0.20", seed_from="100", seed_to="150", win_from="400", win_to="800", win_max="1000", **common),
        level("Mini", 4, "0.15", seed_from="10", seed_to="20", win_from="50", win_to="120", win_max="150", **common),
    ]


def jackpot_dict(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "jackpot_id": JACKPOT_ID,
        "name": "Test Fortune",
        "internal_name": "test-fortune",
        "type": "PERSISTENT",
        "brands": [BRAND],
        "currencies": ["EUR", "USD"],
        "games": [
            {"game_id": "g1", "coefficient": "1.0"},
            {"game_id": "g12", "coefficient": "1.2"},
            {"game_id": "g0", "coefficient": "0.0", "trigger_eligible": False},
            {"game_id": "g2", "coefficient": "2.0"},
        ],
        "contribution_rate": "0.015",
        "house_cut": "0.10",
        "compliance_profile": CURACAO.model_dump(mode="python"),
        "levels": classic_levels(),
    }
    d.update(copy.deepcopy(kw))
    return d


def make_jackpot(**kw: Any) -> Jackpot:
    return Jackpot.model_validate(jackpot_dict(**kw))


def setup(master: bytes = MASTER, **kw: Any):
    """(compiled config, ACTIVE state) for a config built from ``jackpot_dict(**kw)``."""
    cj = compile_jackpot(make_jackpot(**kw))
    st = new_jackpot_state(cj)
    activate(cj, st, master_seed_source(master), actor="op-1", cause_id="activate", now=1_000)
    return cj, st


_n = [0]


def bet(amount: int = 1_000_000, *, game: str = "g1", currency: str = "EUR", bet_type: str = "real",
        brand: str = BRAND, player: str = "p1", bet_id: str | None = None, ts: int = 2_000, **kw: Any) -> Bet:
    if bet_id is None:
        _n[0] += 1
        bet_id = f"bet-{_n[0]}"
    return Bet(bet_id=bet_id, player_id=player, game_id=game, brand_id=brand, currency=currency,
               bet_amount=amount, bet_type=bet_type, session_id="s1", timestamp=ts, **kw)
