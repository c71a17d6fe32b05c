"""What the detectors see: sessions, qualifying bets and wins, each as one small frozen record.

Money is integer micros (engine/money.py), time epoch milliseconds.  Device and network are
hashes supplied by the provider (never raw identifiers); either may be missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SessionSeen:
    """A player's session started: where from (hashed device and network, when provided)."""

    player_id: str
    session_id: str
    at_ms: int
    device: str | None = None
    network: str | None = None


@dataclass(frozen=True, slots=True)
class BetSeen:
    """A bet that contributed to one jackpot.

    ``min_bet_micros`` is the jackpot's minimum qualifying bet; ``win_chance`` the engine's own
    probability that this bet wins a level of the jackpot (0 when it cannot: the sum over a
    player's bets is the number of wins the odds explain); ``near_trigger`` whether the jackpot
    was in a trigger window when the bet arrived (a warn state, or a pool close to its target);
    ``autoplay`` whether the provider's autoplay placed it.
    """

    bet_id: str
    player_id: str
    jackpot_id: str
    game_id: str
    amount_micros: int
    min_bet_micros: int
    at_ms: int
    session_id: str | None = None
    win_chance: float = 0.0
    near_trigger: bool = False
    autoplay: bool = False  # the game's autoplay placed it: regular by design, not a bot


@dataclass(frozen=True, slots=True)
class WinSeen:
    """A player won a level of a jackpot."""

    player_id: str
    jackpot_id: str
    at_ms: int
    win_id: str
