"""Win eligibility: who may trigger and who may win, with a named reason for every refusal.

Contribution eligibility (game, bet type, not excluded) is the pipeline's business
(``contribution.py``); this module is the second, separate moment of the spec: can this player
WIN this level now. The spec's ten conditions and their defaults:

    min bet (0 = none), max bet (0 = none), min spins (0), min players (0), active status (last
    qualifying bet within the active window, 60 s), game eligible (every game), player segment
    (everyone), not excluded (operator list, self-exclusion), jurisdiction (every one), time window
    (24/7)

plus the KYC toggle and, in Modes 3/4, the win-frequency caps. Min players and the time window
concern the pool, the others the player. A bet *qualifies* for a level when its size is within
the level's bet range and its game may trigger; the activity record keeps each player's last
qualifying bet per level, so the eligible-player snapshot of a drop is: active, personally
eligible, a qualifying bet within the window, enough spins.

Must-drop relaxation (``timing.relax_stage``): stage >= 1 halves min_players (rounded up),
stage >= 2 halves min_bet (rounded down), stage >= 3 lifts the time-of-day windows, stage 4 (the
pool at Win Max) waives every level condition: any personally eligible active player qualifies.
"""

from __future__ import annotations

from .activity import (
    AMOUNT,
    F_EXCLUDED,
    F_KYC,
    FLAGS,
    GAME,
    JURISDICTION,
    LAST,
    SEGMENTS,
    SPINS,
    active,
    activity_record,
    level_stats,
)
from .compiled import CompiledJackpot, CompiledLevel, LevelLimits
from .pool import JackpotState, PoolState
from .timing import in_windows

__all__ = [
    "POOL_BELOW_TARGET",
    "BET_BELOW_MIN",
    "BET_ABOVE_MAX",
    "SPINS_BELOW_MIN",
    "PLAYERS_BELOW_MIN",
    "OUTSIDE_TIME_WINDOW",
    "GAME_NOT_ELIGIBLE",
    "PLAYER_EXCLUDED",
    "SEGMENT_NOT_ELIGIBLE",
    "JURISDICTION_NOT_ALLOWED",
    "KYC_NOT_VERIFIED",
    "WIN_CAP_REACHED",
    "NOT_ACTIVE",
    "CHECKS",
    "PERSONAL",
    "CONDITIONS",
    "effective_min_bet",
    "effective_min_players",
    "bet_qualifies",
    "personal_failures",
    "capped",
    "win_conditions",
    "snapshot",
    "TABLE",
    "eligibility_table",
]

# the 7 trigger checks, in the spec's order
POOL_BELOW_TARGET = "pool_below_target"
BET_BELOW_MIN = "bet_below_min"
BET_ABOVE_MAX = "bet_above_max"
SPINS_BELOW_MIN = "spins_below_min"
PLAYERS_BELOW_MIN = "players_below_min"
OUTSIDE_TIME_WINDOW = "outside_time_window"
GAME_NOT_ELIGIBLE = "game_not_trigger_eligible"
CHECKS = (
    POOL_BELOW_TARGET,
    BET_BELOW_MIN,
    BET_ABOVE_MAX,
    SPINS_BELOW_MIN,
    PLAYERS_BELOW_MIN,
    OUTSIDE_TIME_WINDOW,
    GAME_NOT_ELIGIBLE,
)
# personal conditions of the player (the triggering player, or a candidate of the snapshot)
PLAYER_EXCLUDED = "player_excluded"
SEGMENT_NOT_ELIGIBLE = "segment_not_eligible"
JURISDICTION_NOT_ALLOWED = "jurisdiction_not_allowed"
KYC_NOT_VERIFIED = "kyc_not_verified"
WIN_CAP_REACHED = "win_cap_reached"
NOT_ACTIVE = "not_active"
PERSONAL = (PLAYER_EXCLUDED, SEGMENT_NOT_ELIGIBLE, JURISDICTION_NOT_ALLOWED, KYC_NOT_VERIFIED, WIN_CAP_REACHED)
CONDITIONS = CHECKS + PERSONAL + (NOT_ACTIVE,)


def effective_min_bet(lim: LevelLimits, stage: int) -> int:
    if stage >= 4:
        return 0
    return lim.min_bet // 2 if stage >= 2 else lim.min_bet


def effective_min_players(cl: CompiledLevel, stage: int) -> int:
    if stage >= 4:
        return 0
    return -(-cl.min_players // 2) if stage >= 1 else cl.min_players


def bet_qualifies(lim: LevelLimits, amount: int, game_eligible: bool, stage: int) -> bool:
    """Does a bet of this size on this game qualify for the level (checks 2, 3 and 7)?"""
    if stage >= 4:
        return True
    return (
        game_eligible
        and amount >= effective_min_bet(lim, stage)
        and (lim.max_bet == 0 or amount <= lim.max_bet)
    )


def capped(cj: CompiledJackpot, state: JackpotState, player_id: str, level_index: int, now: int) -> bool:
    """Mode 3/4 win-frequency caps: has the player already won ``max_wins`` in the period?"""
    caps = cj.config.operator_rules.win_caps
    if not caps:
        return False
    wins = state.player_wins.get(player_id)
    if not wins:
        return False
    for cap in caps:
        since = now - cap.period_hours * 3_600_000
        lvl = None if cap.level_id is None else cj.level_index[str(cap.level_id)]
        n = sum(1 for at, li in wins if at > since and (lvl is None or li == lvl))
        if n >= cap.max_wins:
            return True
    return False


def personal_failures(
    cj: CompiledJackpot,
    state: JackpotState,
    player_id: str,
    flags: int,
    segments: list[str] | tuple[str, ...],
    jurisdiction: str,
    level_index: int,
    now: int,
) -> list[str]:
    """The player's own conditions that fail (empty = eligible)."""
    out = []
    if flags & F_EXCLUDED or player_id in cj.excluded:
        out.append(PLAYER_EXCLUDED)
    if cj.segments and not cj.segments.intersection(segments):
        out.append(SEGMENT_NOT_ELIGIBLE)
    if cj.jurisdictions and jurisdiction not in cj.jurisdictions:
        out.append(JURISDICTION_NOT_ALLOWED)
    if cj.require_kyc and not flags & F_KYC:
        out.append(KYC_NOT_VERIFIED)
    if capped(cj, state, player_id, level_index, now):
        out.append(WIN_CAP_REACHED)
    return out


def win_conditions(
    cj: CompiledJackpot,
    state: JackpotState,
    cl: CompiledLevel,
    pool: PoolState,
    player_id: str,
    rec: list,
    now: int,
    stage: int,
) -> list[str]:
    """The player-side conditions of the eligibility table that fail for a candidate of a drop.

    Bet size and game are judged on the player's last qualifying bet for the level (kept per
    level in the activity record); min players and the time window are the pool's, checked by
    the trigger."""
    out = personal_failures(cj, state, player_id, rec[FLAGS], rec[SEGMENTS], rec[JURISDICTION], cl.index, now)
    cutoff = now - cj.active_window_ms
    if rec[LAST] < cutoff:
        out.append(NOT_ACTIVE)
    if stage >= 4:
        return out
    _, _, last_qual = level_stats(rec, cl.index, pool.cycle)
    if last_qual < cutoff or last_qual == 0:
        out.append(BET_BELOW_MIN)  # no bet within the window met the level's bet range and game
    if rec[SPINS] < cl.min_spins:
        out.append(SPINS_BELOW_MIN)
    return out


def snapshot(
    cj: CompiledJackpot, state: JackpotState, cl: CompiledLevel, pool: PoolState, now: int, stage: int
) -> list[tuple[str, list]]:
    """The eligible-player snapshot of a drop: (player_id, record), sorted by player id."""
    out = [
        (pid, rec)
        for pid, rec in active(cj, state, pool.currency, now)
        if not win_conditions(cj, state, cl, pool, pid, rec, now, stage)
    ]
    out.sort(key=lambda x: x[0])
    return out


TABLE = (
    "min_bet", "max_bet", "min_spins", "min_players", "active_status", "game_eligible", "player_segment",
    "not_excluded", "jurisdiction", "time_window",
)


def eligibility_table(
    cj: CompiledJackpot, state: JackpotState, cl: CompiledLevel, pool: PoolState, player_id: str, now: int, stage: int = 0
) -> dict[str, bool]:
    """The spec's ten win-eligibility conditions for one player on one pool (True = met), for the
    live monitor's player table and condition failure analysis. Bet size and game are judged on
    the player's last bet (``activity``); KYC and win caps are folded into "not excluded"."""
    rec = activity_record(state, pool.currency, player_id)
    lim = cl.limits[pool.currency]
    if rec is None:
        return {c: False for c in TABLE} | {"min_players": False, "time_window": False}
    personal = set(personal_failures(cj, state, player_id, rec[FLAGS], rec[SEGMENTS], rec[JURISDICTION], cl.index, now))
    game = cj.games.get(rec[GAME])
    waived = stage >= 4
    windows = cj.config.drop_windows
    return {
        "min_bet": waived or rec[AMOUNT] >= effective_min_bet(lim, stage),
        "max_bet": waived or lim.max_bet == 0 or rec[AMOUNT] <= lim.max_bet,
        "min_spins": waived or rec[SPINS] >= cl.min_spins,
        "min_players": waived or sum(1 for _ in active(cj, state, pool.currency, now)) >= effective_min_players(cl, stage),
        "active_status": rec[LAST] >= now - cj.active_window_ms,
        "game_eligible": waived or (game is not None and game.trigger_eligible),
        "player_segment": SEGMENT_NOT_ELIGIBLE not in personal,
        "not_excluded": not personal & {PLAYER_EXCLUDED, KYC_NOT_VERIFIED, WIN_CAP_REACHED},
        "jurisdiction": JURISDICTION_NOT_ALLOWED not in personal,
        "time_window": stage >= 3 or in_windows(windows.windows, windows.timezone, now),
    }
