"""Change impact of an edit to a live jackpot (spec: Configuration Panel) and regulatory item 7.

Warnings are returned with the response, never silently applied:
- reducing Win From below the current pool: the jackpot may drop on the next qualifying bet;
- changing contribution splits mid-cycle: existing pool amounts stay, new splits apply to
  future contributions only;
- removing games while players are active: active sessions contribute until they end;
- changing eligibility rules: currently qualifying players may be disqualified at once.

Item 7: a change to the math of a running cycle (rates, ranges, limits) takes effect only after
the current jackpot is won unless the jurisdiction allows otherwise; a compliance profile that
prohibits ``apply_immediately`` refuses such a change with apply timing "immediately" or
"scheduled" (a time of day is mid-cycle). With "next_cycle" the change waits until every level
it touches (``cycle_levels``) has reseeded since it was requested, then the scheduler publishes it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

JACKPOT_MATH = ("contribution_rate", "house_cut", "network")  # network: the exchange rates pooled at
LEVEL_MATH = ("contribution_split", "seed_from", "seed_to", "win_from", "win_to", "win_max", "coefficient",
              "warn_from", "warn_to", "hidden_increment", "max_contribution", "evaluation_delay_from",
              "evaluation_delay_to", "currency_amounts", "overflow", "chain_reaction")
LEVEL_ELIGIBILITY = ("min_bet", "max_bet", "min_players", "min_spins")
JACKPOT_ELIGIBILITY = ("accepted_bet_types", "player_segments", "active_window_seconds", "eligibility")


class Warning_(BaseModel):
    code: str
    message: str
    level_id: str | None = None
    currency: str | None = None


def _levels(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(lv["level_id"]): lv for lv in doc.get("levels", [])}


def math_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of the math fields that differ (``level Grand: win_from`` style)."""
    out = [f for f in JACKPOT_MATH if str(old.get(f)) != str(new.get(f))]
    o, n = _levels(old), _levels(new)
    if set(o) != set(n):
        out.append("levels added or removed")
    for lid in sorted(set(o) & set(n)):
        for f in LEVEL_MATH:
            if o[lid].get(f) != n[lid].get(f):
                out.append(f"level {n[lid].get('name')}: {f}")
    return out


def removals(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Levels and currencies ``new`` no longer has: a ``next_cycle`` change may not remove them
    (their pools hold money and run a cycle; engine/succession.py)."""
    o, n = _levels(old), _levels(new)
    return ([f"level {o[lid].get('name')}" for lid in o if lid not in n]
            + [f"currency {c}" for c in old.get("currencies", []) if c not in new.get("currencies", [])])


def cycle_levels(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The running levels whose current cycle must end before a ``next_cycle`` change applies: the
    levels whose own math changes, or every level when the jackpot's rates or its set of levels
    change (those touch every cycle). Item 7: math takes effect only after the current jackpot is won."""
    o, n = _levels(old), _levels(new)
    if set(o) != set(n) or any(str(old.get(f)) != str(new.get(f)) for f in JACKPOT_MATH):
        return sorted(o)
    return sorted(lid for lid in set(o) & set(n) if any(o[lid].get(f) != n[lid].get(f) for f in LEVEL_MATH))


def warnings(old: dict[str, Any], new: dict[str, Any], *, current_amounts: dict[tuple[str, str], Decimal],
             active_players: int) -> list[Warning_]:
    """``current_amounts`` maps (level_id, currency) to the pool's current amount."""
    out: list[Warning_] = []
    o, n = _levels(old), _levels(new)
    for lid, lv in n.items():
        for cur in new.get("currencies", []):
            amount = current_amounts.get((lid, cur))
            if amount is None:
                continue
            win_from = Decimal(str((lv.get("currency_amounts") or {}).get(cur, {}).get("win_from", lv["win_from"])))
            before = o.get(lid)
            old_from = None if before is None else Decimal(str(
                (before.get("currency_amounts") or {}).get(cur, {}).get("win_from", before["win_from"])))
            if win_from < amount and (old_from is None or win_from < old_from):
                out.append(Warning_(
                    code="win_from_below_pool", level_id=lid, currency=cur,
                    message=f"level {lv['name']} ({cur}): Win From {win_from} is below the current pool {amount}; "
                            "the jackpot may drop on the next qualifying bet"))
    if any(o[lid].get("contribution_split") != n[lid].get("contribution_split") for lid in set(o) & set(n)) \
            or set(o) != set(n):
        out.append(Warning_(code="splits_changed_mid_cycle",
                            message="contribution splits changed mid-cycle: existing pool amounts remain; "
                                    "new splits apply to future contributions only"))
    removed = sorted({g["game_id"] for g in old.get("games", [])} - {g["game_id"] for g in new.get("games", [])})
    if removed:
        players = f"{active_players} player(s) are active" if active_players else "players may be active"
        out.append(Warning_(code="games_removed_while_active",
                            message=f"games removed ({', '.join(removed)}) while {players}: active sessions "
                                    "contribute until the session ends, then the game is excluded"))
    changed = [f for f in JACKPOT_ELIGIBILITY if old.get(f) != new.get(f)]
    for lid in set(o) & set(n):
        changed += [f"level {n[lid]['name']}: {f}" for f in LEVEL_ELIGIBILITY if o[lid].get(f) != n[lid].get(f)]
    if changed:
        out.append(Warning_(code="eligibility_changed",
                            message=f"eligibility rules changed ({', '.join(sorted(changed))}): currently "
                                    "qualifying players may be immediately disqualified"))
    return out


def limits_below_current(new: dict[str, Any], current_amounts: dict[tuple[str, str], Decimal]) -> list[str]:
    """Pools whose new ``win_max`` would sit below their current amount (regulatory item 5): a
    change that applies now is refused for them; the engine faults a jackpot that gets one anyway."""
    out = []
    for lid, lv in _levels(new).items():
        for cur in new.get("currencies", []):
            amount = current_amounts.get((lid, cur))
            if amount is None:
                continue
            win_max = Decimal(str((lv.get("currency_amounts") or {}).get(cur, {}).get("win_max", lv["win_max"])))
            if win_max < amount:
                out.append(f"level {lv['name']} ({cur}): Win Max {win_max} is below the current pool {amount}")
    return out


def immediate_math_allowed(profile: dict[str, Any]) -> bool:
    return "apply_immediately" not in set(profile.get("prohibited_actions") or [])
