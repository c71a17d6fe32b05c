"""Ready-made configuration as data: compliance profiles, the six campaign templates and the
seven day-one jackpots of the specification's launch portfolio.

Templates are plain JSON-like dicts (decimals as strings) so the back office can store, clone
and edit them; ``instantiate`` fills in identity (name, brands, currencies, games), derives
stable level ids, applies overrides and validates the result as a ``Jackpot``. Every day-one
jackpot is a template plus overrides, which keeps the portfolio consistent with the templates.

Amounts are planning values for launch, chosen to match the spec's own examples (Grand
reseeding between 5,000 and 8,000 and dropping around 31,000-47,000 below a 60,000 ceiling;
chain reaction prizes 500/250/100/100; a Mega Cascade drop producing 4 + 8 = 12 winners).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from .config import ComplianceProfile, Jackpot

__all__ = [
    "CATALOG_NAMESPACE",
    "CURACAO",
    "ROMANIA_ONJN",
    "PROFILES",
    "TEMPLATES",
    "DAY_ONE",
    "DEFAULT_BRANDS",
    "DEFAULT_GAMES",
    "stable_id",
    "instantiate",
    "day_one_jackpots",
    "day_one_jackpot",
]

CATALOG_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:jackpot:catalog")


def stable_id(*parts: str) -> uuid.UUID:
    """A UUIDv5 from names, so re-creating catalog data yields the same ids."""
    return uuid.uuid5(CATALOG_NAMESPACE, "/".join(parts))


# --------------------------------------------------------------------------- compliance profiles

CURACAO = ComplianceProfile.model_validate(
    {
        "jurisdiction_code": "CW",
        "name": "Curaçao",
        "allowed_distribution_modes": [1, 2, 3, 4],
        "certification_required": False,
        "rng_audit_trail": True,
        "audit_level": "standard",
        "allowed_bet_types": ["real", "bonus"],
    }
)

ROMANIA_ONJN = ComplianceProfile.model_validate(
    {
        "jurisdiction_code": "RO",
        "name": "Romania (ONJN)",
        "allowed_distribution_modes": [1, 2],
        "certification_required": True,
        "certification_bodies": ["ONJN"],
        "rng_audit_trail": True,
        "audit_level": "full",
        "allowed_bet_types": ["real"],
        # Mode 2 with conservative weights: behaviour only, no loyalty tier, no coefficient above 0.15
        "allowed_weight_factors": ["bet_size", "contribution_volume", "session_presence", "bet_count", "recency"],
        "max_weight_coefficient": "0.15",
        "allowed_chain_modes": ["random", "weighted"],
        "allowed_currencies": ["RON", "EUR"],
        "prohibited_actions": ["apply_immediately"],
        "prohibited_features": ["segment_targeting", "overflow_to_revenue"],
    }
)

PROFILES: dict[str, ComplianceProfile] = {"CW": CURACAO, "RO": ROMANIA_ONJN}

MODE2_WEIGHTS = {
    "bet_size": "0.3",
    "contribution_volume": "0.2",
    "session_presence": "0.1",
    "bet_count": "0.15",
    "loyalty_tier": "0.1",
    "recency": "0.05",
}
MODE2_CONSERVATIVE_WEIGHTS = {
    "bet_size": "0.15",
    "contribution_volume": "0.1",
    "session_presence": "0.05",
    "bet_count": "0.1",
    "recency": "0.05",
}

DEFAULT_BRANDS = [str(stable_id("brand", "main"))]
DEFAULT_GAMES: list[dict[str, Any]] = [
    {"game_id": "book-of-dead", "provider": "playngo", "coefficient": "1.0"},
    {"game_id": "sweet-bonanza", "provider": "pragmatic", "coefficient": "1.0"},
    {"game_id": "gates-of-olympus", "provider": "pragmatic", "coefficient": "1.2"},
    {"game_id": "big-bass-bonanza", "provider": "pragmatic", "coefficient": "1.0"},
    {"game_id": "starburst", "provider": "netent", "coefficient": "0.5"},
    {"game_id": "blackjack-classic", "provider": "evolution", "coefficient": "0.0", "trigger_eligible": False},
]


def _lvl(name: str, order: int, split: str, seed: tuple[str, str], win: tuple[str, str], win_max: str, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": name,
        "display_order": order,
        "contribution_split": split,
        "seed_from": seed[0],
        "seed_to": seed[1],
        "win_from": win[0],
        "win_to": win[1],
        "win_max": win_max,
    }
    d.update(kw)
    return d


# --------------------------------------------------------------------------- the six templates

TEMPLATES: dict[str, dict[str, Any]] = {
    # Timed, 1 level, drops within 24h, low seed, resets daily at midnight.
    "daily_must_drop": {
        "type": "TIMED",
        "drop_mode": "must_drop",
        "distribution_mode": 2,
        "weight_factors": MODE2_WEIGHTS,
        "contribution_rate": "0.01",
        "house_cut": "0.05",
        "schedule": {"timezone": "UTC", "recurrence": "daily", "open_time": "00:00:00", "close_time": "23:59:59"},
        "levels": [
            _lvl("Daily", 1, "1", ("100", "150"), ("500", "1500"), "2000",
                 warn_from="0.60", warn_to="0.85", integer_wins_only=True,
                 evaluation_delay_from=1, evaluation_delay_to=20),
        ],
    },
    # Persistent, 4 levels (Grand/Major/Minor/Mini), standard splits 40/25/20/15.
    "classic_progressive": {
        "type": "PERSISTENT",
        "drop_mode": "range",
        "distribution_mode": 2,
        "weight_factors": MODE2_WEIGHTS,
        "contribution_rate": "0.015",
        "house_cut": "0.10",
        "levels": [
            _lvl("Grand", 1, "0.40", ("5000", "8000"), ("30000", "55000"), "60000",
                 min_bet="0.50", min_players=20, hidden_increment={"enabled": True, "coefficient": "0.10"}),
            _lvl("Major", 2, "0.25", ("500", "800"), ("2500", "5000"), "6000",
                 min_bet="0.20", hidden_increment={"enabled": True, "coefficient": "0.05"}),
            _lvl("Minor", 3, "0.20", ("100", "150"), ("400", "800"), "1000"),
            _lvl("Mini", 4, "0.15", ("10", "20"), ("50", "120"), "150",
                 overflow={"mode": "redirect"}),
        ],
    },
    # Mystery type, 3 levels, hidden tiers, medium seed, warn enabled.
    "mystery_drops": {
        "type": "MYSTERY",
        "drop_mode": "range",
        "distribution_mode": 1,
        "contribution_rate": "0.01",
        "house_cut": "0.05",
        "levels": [
            _lvl("Gold", 1, "0.50", ("1000", "1500"), ("4000", "7000"), "8000",
                 warn_from="0.60", warn_to="0.85", hidden_increment={"enabled": True, "coefficient": "0.08"}),
            _lvl("Silver", 2, "0.30", ("200", "300"), ("800", "1500"), "1800",
                 warn_from="0.60", warn_to="0.85", hidden_increment={"enabled": True, "coefficient": "0.08"}),
            _lvl("Bronze", 3, "0.20", ("50", "75"), ("150", "300"), "350",
                 warn_from="0.60", warn_to="0.85", hidden_increment={"enabled": True, "coefficient": "0.08"}),
        ],
    },
    # Persistent, VIP segment only, higher min bet, larger seeds, chain reaction.
    "vip_exclusive": {
        "type": "PERSISTENT",
        "drop_mode": "range",
        "distribution_mode": 3,
        "player_segments": ["VIP"],
        "contribution_rate": "0.02",
        "house_cut": "0.10",
        "levels": [
            _lvl("Diamond", 1, "0.50", ("10000", "15000"), ("50000", "90000"), "100000",
                 min_bet="2.00", max_contribution="10000",
                 chain_reaction={"enabled": True, "prize_count": 3, "prize_amounts": ["1000", "500", "250"],
                                 "distribution_mode": "targeted"}),
            _lvl("Platinum", 2, "0.30", ("2000", "3000"), ("8000", "15000"), "18000", min_bet="2.00"),
            _lvl("Gold", 3, "0.20", ("500", "750"), ("2000", "4000"), "5000", min_bet="2.00"),
        ],
    },
    # Promotional, Friday 18:00 to Sunday 23:59, must drop before deadline.
    "weekend_thunder": {
        "type": "PROMOTIONAL",
        "drop_mode": "must_drop",
        "distribution_mode": 2,
        "weight_factors": MODE2_WEIGHTS,
        "contribution_rate": "0.012",
        "house_cut": "0.05",
        "schedule": {"timezone": "UTC", "recurrence": "weekly", "open_weekday": 4, "open_time": "18:00:00",
                     "close_weekday": 6, "close_time": "23:59:00", "end_action": "force_drop"},
        "levels": [
            _lvl("Thunder", 1, "1", ("2000", "3000"), ("8000", "15000"), "20000"),
        ],
    },
    # Promotional, 2-hour window, fast cycle, low Win Max, multiple quick drops.
    "happy_hour_blitz": {
        "type": "PROMOTIONAL",
        "drop_mode": "must_drop",
        "distribution_mode": 2,
        "weight_factors": MODE2_WEIGHTS,
        "contribution_rate": "0.01",
        "house_cut": "0.05",
        "schedule": {"timezone": "UTC", "recurrence": "daily", "open_time": "20:00:00", "close_time": "22:00:00",
                     "end_action": "force_drop"},
        "levels": [
            _lvl("Blitz", 1, "1", ("20", "30"), ("80", "200"), "250",
                 integer_wins_only=True, evaluation_delay_from=1, evaluation_delay_to=10, max_contribution="25"),
        ],
    },
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("weight_factors",):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def instantiate(
    template: str,
    *,
    name: str,
    jackpot_id: uuid.UUID | str | None = None,
    internal_name: str | None = None,
    brands: list[str] | None = None,
    currencies: list[str] | None = None,
    games: list[dict[str, Any]] | None = None,
    compliance_profile: ComplianceProfile | None = None,
    overrides: dict[str, Any] | None = None,
) -> Jackpot:
    """Build and validate a jackpot from a template (the wizard's "load from template").

    Level ids are derived from the jackpot id and level name, so the same call always yields
    the same config. ``overrides`` deep-merges into the template; a ``levels`` override replaces
    the level list (ids are still derived).
    """
    try:
        base = TEMPLATES[template]
    except KeyError:
        raise KeyError(f"unknown template {template!r}; templates: {', '.join(TEMPLATES)}") from None
    jid = uuid.UUID(str(jackpot_id)) if jackpot_id else stable_id("jackpot", name)
    data = _merge(base, overrides or {})
    data.update(
        {
            "jackpot_id": str(jid),
            "name": name,
            "internal_name": internal_name or name.lower().replace(" ", "-"),
            "brands": list(brands if brands is not None else DEFAULT_BRANDS),
            "currencies": list(currencies if currencies is not None else ["EUR"]),
            "games": copy.deepcopy(games if games is not None else DEFAULT_GAMES),
            "compliance_profile": (compliance_profile or CURACAO).model_dump(mode="python"),
        }
    )
    levels = []
    for lv in data["levels"]:
        lv = dict(lv)
        lv.setdefault("level_id", str(stable_id(str(jid), "level", lv["name"])))
        levels.append(lv)
    names = {lv["name"]: lv["level_id"] for lv in levels}
    for lv in levels:
        ov = lv.get("overflow")
        if ov and ov.get("redirect_to"):
            lv["overflow"] = {**ov, "redirect_to": [names.get(t, t) for t in ov["redirect_to"]]}
    data["levels"] = levels
    return Jackpot.model_validate(data)


# --------------------------------------------------------------------------- day-one portfolio

_CHAIN_CROWN = {"enabled": True, "prize_count": 4, "prize_amounts": ["500", "250", "100", "100"],
                "distribution_mode": "weighted"}
_WATERFALL = {"enabled": True, "cascade_delay_seconds": 3, "cascade_scope": "full", "winner_mode": "independent"}


def _ron(seed: tuple[str, str], win: tuple[str, str], win_max: str, min_bet: str = "0") -> dict[str, Any]:
    return {"seed_from": seed[0], "seed_to": seed[1], "win_from": win[0], "win_to": win[1],
            "win_max": win_max, "min_bet": min_bet}


DAY_ONE: dict[str, dict[str, Any]] = {
    # Flagship. Persistent, 4 levels, progressive, Mode 2, waterfall and chain reaction.
    "Crown Fortune": {
        "template": "classic_progressive",
        "currencies": ["EUR", "USD"],
        "profile": "CW",
        "overrides": {
            "levels": [
                _lvl("Grand", 1, "0.40", ("5000", "8000"), ("30000", "55000"), "60000",
                     min_bet="0.50", min_players=20, hidden_increment={"enabled": True, "coefficient": "0.10"},
                     chain_reaction=_CHAIN_CROWN, waterfall=_WATERFALL, lock_on_win=True),
                _lvl("Major", 2, "0.25", ("500", "800"), ("2500", "5000"), "6000",
                     min_bet="0.20", hidden_increment={"enabled": True, "coefficient": "0.05"}, waterfall=_WATERFALL),
                _lvl("Minor", 3, "0.20", ("100", "150"), ("400", "800"), "1000", waterfall=_WATERFALL),
                _lvl("Mini", 4, "0.15", ("10", "20"), ("50", "120"), "150", overflow={"mode": "redirect"}),
            ],
        },
    },
    # Persistent mystery, 3 hidden levels, Mode 1/2 market (Romania: real money, RON + EUR).
    "Mystery Drops": {
        "template": "mystery_drops",
        "currencies": ["RON", "EUR"],
        "profile": "RO",
        "overrides": {
            "levels": [
                _lvl("Gold", 1, "0.50", ("1000", "1500"), ("4000", "7000"), "8000",
                     warn_from="0.60", warn_to="0.85", hidden_increment={"enabled": True, "coefficient": "0.08"},
                     currency_amounts={"RON": _ron(("5000", "7500"), ("20000", "35000"), "40000")}),
                _lvl("Silver", 2, "0.30", ("200", "300"), ("800", "1500"), "1800",
                     warn_from="0.60", warn_to="0.85", hidden_increment={"enabled": True, "coefficient": "0.08"},
                     currency_amounts={"RON": _ron(("1000", "1500"), ("4000", "7500"), "9000")}),
                _lvl("Bronze", 3, "0.20", ("50", "75"), ("150", "300"), "350",
                     warn_from="0.60", warn_to="0.85", hidden_increment={"enabled": True, "coefficient": "0.08"},
                     currency_amounts={"RON": _ron(("250", "375"), ("750", "1500"), "1750")}),
            ],
        },
    },
    # Timed, 1 level, must-drop daily, fast cycle, Mode 2.
    "Daily Blitz": {
        "template": "daily_must_drop",
        "currencies": ["EUR", "USD"],
        "profile": "CW",
        "overrides": {},
    },
    # Persistent, 3 levels, VIP only, higher stakes, Mode 3 (Curaçao only).
    "VIP Diamond": {
        "template": "vip_exclusive",
        "currencies": ["EUR", "USD"],
        "profile": "CW",
        "overrides": {},
    },
    # Promotional, 1 level, must-drop in a 2-hour window, fast drops, Mode 3 (Curaçao only).
    "Lucky Hour": {
        "template": "happy_hour_blitz",
        "currencies": ["EUR", "USD"],
        "profile": "CW",
        "overrides": {"distribution_mode": 3, "weight_factors": {}, "accepted_bet_types": ["real", "bonus"]},
    },
    # Promotional, 2 levels, timed Friday-Sunday deadline, Mode 2.
    "Weekend Thunder": {
        "template": "weekend_thunder",
        "currencies": ["EUR", "USD"],
        "profile": "CW",
        "overrides": {
            "levels": [
                _lvl("Thunder", 1, "0.70", ("2000", "3000"), ("8000", "15000"), "20000"),
                _lvl("Storm", 2, "0.30", ("200", "300"), ("800", "1500"), "2000"),
            ],
        },
    },
    # Persistent, 4 levels, waterfall: 4 cascade winners + 2 chain prizes per level = 12 winners.
    "Mega Cascade": {
        "template": "classic_progressive",
        "currencies": ["EUR", "USD"],
        "profile": "CW",
        "overrides": {
            "levels": [
                _lvl("Mega", 1, "0.40", ("3000", "5000"), ("20000", "35000"), "40000", waterfall=_WATERFALL,
                     chain_reaction={"enabled": True, "prize_count": 2, "prize_amounts": ["250", "100"],
                                     "distribution_mode": "proximity"}),
                _lvl("Super", 2, "0.30", ("500", "800"), ("2500", "4500"), "5000", waterfall=_WATERFALL,
                     chain_reaction={"enabled": True, "prize_count": 2, "prize_amounts": ["100", "50"],
                                     "distribution_mode": "weighted"}),
                _lvl("Great", 3, "0.20", ("100", "150"), ("400", "800"), "1000", waterfall=_WATERFALL,
                     chain_reaction={"enabled": True, "prize_count": 2, "prize_amounts": ["25", "10"],
                                     "distribution_mode": "weighted"}),
                _lvl("Good", 4, "0.10", ("10", "20"), ("50", "120"), "150", waterfall=_WATERFALL,
                     chain_reaction={"enabled": True, "prize_count": 2, "prize_amounts": ["5", "5"],
                                     "distribution_mode": "random"}),
            ],
        },
    },
}


def day_one_jackpot(name: str) -> Jackpot:
    spec = DAY_ONE[name]
    return instantiate(
        spec["template"],
        name=name,
        currencies=spec["currencies"],
        compliance_profile=PROFILES[spec["profile"]],
        overrides=spec["overrides"],
    )


def day_one_jackpots() -> list[Jackpot]:
    """The seven launch jackpots, validated."""
    return [day_one_jackpot(n) for n in DAY_ONE]
