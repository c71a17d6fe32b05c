"""Active players: the sliding window of players with a qualifying bet in the last N seconds.

The spec keeps this window in Redis; here it lives in ``JackpotState.activity`` so it is replayed
and restored with the pools (the worker stores it one entry per player next to the jackpot value,
tables/activity.py), and so the eligible-player snapshot of a drop is a pure function of the state. Per currency, players are kept in order of their last bet
(oldest first: each bet moves its player to the end), so pruning on every call only looks at the
front: players whose last bet is older than the window leave the state. The last player to leave
is kept in ``last_seen`` (force drops with nobody active go to the most recently active player).

A record is a flat list (compact JSON)::

    [brand, game, last_bet_at, last_bet_amount, session_started_at, session_spins, [segments],
     loyalty_tier, flags, jurisdiction, {attributes}, [per level: cycle, contributed, qualifying bets,
     last qualifying bet at]]

Per-player facts the engine cannot know (segments, tier, KYC, jurisdiction, exclusion, session
spins and start, CRM star flag, Mode 3 attributes) come from the caller in a ``BetContext``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .compiled import CompiledJackpot
from .contribution import Bet, ContributionResult
from .pool import JackpotState

__all__ = [
    "BetContext",
    "BRAND",
    "GAME",
    "LAST",
    "AMOUNT",
    "SESSION",
    "SPINS",
    "SEGMENTS",
    "TIER",
    "FLAGS",
    "JURISDICTION",
    "ATTRS",
    "LEVELS",
    "STRIDE",
    "F_KYC",
    "F_EXCLUDED",
    "F_STAR",
    "record_bet",
    "prune",
    "active",
    "active_count",
    "level_stats",
    "most_recent",
    "activity_record",
]

BRAND, GAME, LAST, AMOUNT, SESSION, SPINS, SEGMENTS, TIER, FLAGS, JURISDICTION, ATTRS, LEVELS = range(12)
STRIDE = 4  # per level: cycle, contributed this cycle, qualifying bets this cycle, last qualifying bet at
F_KYC, F_EXCLUDED, F_STAR = 1, 2, 4


@dataclass(slots=True, frozen=True)
class BetContext:
    """A bet plus what the router knows about its player (spec: Player Service data).

    ``session_spins`` counts the player's qualifying bets in the current session including this
    one (trigger check 4); ``session_started_at`` feeds the session-presence weight;
    ``attributes`` are the Mode 3 custom-weight inputs (only the configured names are kept).
    """

    bet: Bet
    segments: tuple[str, ...] = ()
    loyalty_tier: int = 0
    kyc_verified: bool = False
    jurisdiction: str = ""
    excluded: bool = False
    self_excluded: bool = False
    session_spins: int = 0
    session_started_at: int = 0
    star: bool = False
    attributes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "BetContext":
        """From a flat record: the Bet fields (``bet_amount`` in micros) plus the player fields."""
        return cls(
            bet=Bet.from_dict(d),
            segments=tuple(d.get("segments") or ()),
            loyalty_tier=int(d.get("loyalty_tier") or 0),
            kyc_verified=bool(d.get("kyc_verified", False)),
            jurisdiction=str(d.get("jurisdiction") or ""),
            excluded=bool(d.get("excluded", False)),
            self_excluded=bool(d.get("self_excluded", False)),
            session_spins=int(d.get("session_spins") or 0),
            session_started_at=int(d.get("session_started_at") or 0),
            star=bool(d.get("star", False)),
            attributes={str(k): int(v) for k, v in (d.get("attributes") or {}).items()},
        )

    @property
    def flags(self) -> int:
        f = F_KYC if self.kyc_verified else 0
        if self.excluded or self.self_excluded or self.bet.player_excluded:
            f |= F_EXCLUDED
        if self.star:
            f |= F_STAR
        return f


def record_bet(
    cj: CompiledJackpot,
    state: JackpotState,
    ctx: BetContext,
    result: ContributionResult,
    qualifies: list[bool],
    now: int,
) -> list:
    """Update the player's record with an applied bet and move the player to the newest end.

    ``qualifies[i]``: the bet qualifies for level i (bet size, game) under the level's current rules.
    """
    bet = ctx.bet
    by_player = state.activity.setdefault(result.currency, {})
    rec = by_player.pop(bet.player_id, None)
    n = len(cj.levels)
    if rec is None:
        rec = ["", "", 0, 0, 0, 0, [], 0, 0, "", {}, [0] * (STRIDE * n)]
    lv = rec[LEVELS]
    if len(lv) < STRIDE * n:  # a newer config added levels
        lv.extend([0] * (STRIDE * n - len(lv)))
    pools = state.pools[result.currency]
    for i, lc in enumerate(result.levels):
        cl = cj.levels[i]
        cycle = pools[cl.level_id].cycle
        b = STRIDE * i
        if lv[b] != cycle:
            lv[b], lv[b + 1], lv[b + 2] = cycle, 0, 0
        lv[b + 1] += lc.net
        if qualifies[i]:
            lv[b + 2] += 1
            lv[b + 3] = now
    rec[BRAND] = bet.brand_id
    rec[GAME] = bet.game_id
    rec[LAST] = now
    rec[AMOUNT] = bet.bet_amount
    rec[SESSION] = ctx.session_started_at
    rec[SPINS] = ctx.session_spins
    rec[SEGMENTS] = sorted(ctx.segments)
    rec[TIER] = ctx.loyalty_tier
    rec[FLAGS] = ctx.flags
    rec[JURISDICTION] = ctx.jurisdiction
    if cj.custom_weights:
        rec[ATTRS] = {k: int(ctx.attributes.get(k, 0)) for k, _, _ in cj.custom_weights}
    by_player[bet.player_id] = rec
    changed = (result.currency, bet.player_id)
    state.activity_changes.pop(changed, None)  # journal in order of last touch
    state.activity_changes[changed] = None
    return rec


def prune(cj: CompiledJackpot, state: JackpotState, now: int) -> None:
    """Drop players whose last bet is outside the window (front of each currency's order)."""
    cutoff = now - cj.active_window_ms
    for currency, by_player in state.activity.items():
        gone = []
        for pid, rec in by_player.items():
            if rec[LAST] >= cutoff:
                break
            gone.append(pid)
        if gone:
            last = gone[-1]
            state.last_seen[currency] = [last, *by_player[last]]
            for pid in gone:
                del by_player[pid]
                state.activity_changes[(currency, pid)] = None


def active(cj: CompiledJackpot, state: JackpotState, currency: str, now: int) -> Iterator[tuple[str, list]]:
    """(player_id, record) of the players active at ``now`` (a late bet can leave an older one
    behind the front, so the window is checked per record)."""
    cutoff = now - cj.active_window_ms
    for pid, rec in state.activity.get(currency, {}).items():
        if rec[LAST] >= cutoff:
            yield pid, rec


def active_count(cj: CompiledJackpot, state: JackpotState, currency: str, now: int) -> int:
    """Active players on the pool's currency (the min_players check and the "players chasing" count)."""
    return sum(1 for _ in active(cj, state, currency, now))


def level_stats(rec: list, index: int, cycle: int) -> tuple[int, int, int]:
    """(contributed this cycle, qualifying bets this cycle, last qualifying bet at) for a level."""
    lv = rec[LEVELS]
    b = STRIDE * index
    if b + STRIDE > len(lv):
        return 0, 0, 0
    if lv[b] != cycle:
        return 0, 0, lv[b + 3]
    return lv[b + 1], lv[b + 2], lv[b + 3]


def most_recent(state: JackpotState, currency: str) -> Iterator[tuple[str, list]]:
    """Players from the most recently active backwards, then the last one pruned."""
    by_player = state.activity.get(currency, {})
    for pid in reversed(by_player):
        yield pid, by_player[pid]
    seen = state.last_seen.get(currency)
    if seen and seen[0] not in by_player:
        yield seen[0], seen[1:]


def activity_record(state: JackpotState, currency: str, player_id: str) -> list | None:
    return state.activity.get(currency, {}).get(player_id)
