"""Every limit the fraud detectors apply, in one frozen object an operator can set.

The defaults are chosen so that the labelled population (``population``) is caught in full
and none of its honest players is flagged, and so that known honest behaviour the population
does not model (a household on one tablet, a carrier's NAT, a slow player warming up, a turbo
player at the minimum stake) is not flagged either; each says what it guards against.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Thresholds:
    # multi-accounting: distinct accounts on one jackpot from one device (or one network) within
    # the window; a network is shared more often (a household, a NAT), so it needs more of them
    multi_window_ms: int = 10 * MINUTE_MS
    multi_device_accounts: int = 4  # a household shares a tablet: three accounts are not yet a farm
    multi_network_accounts: int = 8  # a carrier's NAT puts strangers behind one address
    # bot play: intervals between a player's bets so regular that no human keeps them up
    bot_intervals: int = 30  # intervals looked at (the player's last ones)
    bot_max_cv: float = 0.08  # coefficient of variation (stdev / mean) at or below which it flags
    bot_max_mean_ms: int = 2 * MINUTE_MS  # slower play is not farming
    # collusion: accounts whose bets on one jackpot land together, bet after bet
    collusion_window_ms: int = 5 * MINUTE_MS
    collusion_tolerance_ms: int = 1_000  # two bets "together" when this close
    collusion_min_bets: int = 10  # each account's bets in the window before it is compared
    collusion_min_share: float = 0.8  # share of an account's bets with a partner's bet beside it
    collusion_min_accounts: int = 3
    collusion_alpha: float = 1e-6  # binomial test of an account's hits beside another's against chance
    collusion_crowd: int = 12  # accounts betting in one bin beyond this are a crowd (a round closing), not a ring
    # contribution manipulation: minimum qualifying bets in rapid succession across games
    manipulation_window_ms: int = MINUTE_MS
    manipulation_min_bets: int = 15
    manipulation_min_games: int = 3  # a turbo player at the minimum stake who switches game once is not it
    # win frequency: one-sided Poisson test of a player's wins against the wins their bets'
    # own odds explain; flags when P(X >= wins) under the odds is below ``win_alpha``
    win_alpha: float = 1e-6
    win_min_wins: int = 3
    win_horizon_days: int = 30  # wins and odds compared over this many days
    # velocity spike: a player's bet rate on a jackpot in a trigger window against their own
    # earlier rate on it
    velocity_recent_ms: int = 2 * MINUTE_MS
    velocity_baseline_ms: int = 30 * MINUTE_MS
    velocity_min_bets: int = 12  # in the recent window
    velocity_ratio: float = 5.0
    velocity_floor_per_min: float = 2.0  # the baseline rate is at least this: a slow player warming up is not it
    velocity_max_gap_ms: int = 5 * MINUTE_MS  # present throughout: no longer pause since the baseline began
    # one alert per pattern and subject (player, device, group) per cooldown
    cooldown_ms: int = 60 * MINUTE_MS
    # state of keys idle this long is dropped (sessions' origins, pace histories, last alerts)
    idle_ms: int = 12 * 60 * MINUTE_MS
