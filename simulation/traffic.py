"""Synthetic platform traffic: who bets, how much, on what, and when (spec: Simulation Engine inputs).

The operator describes the platform as it is (average concurrent players, bets per player-hour,
a bet-size distribution, the game, brand and currency mix, a 24-hour peak/off-peak profile);
the simulator turns that into ``Bet``s for the engine. Everything here is plain data and pure
functions of a ``random.Random`` the caller seeds, so a run is reproducible from its seed.

Bet sizes are drawn from a log-normal (median, sigma) clipped to [min, max], or from explicit
``bet_sizes`` with weights; both are discretised once into ``QUANTILES`` equally likely values so
the inner loop draws a bet size with one index instead of a ``lognormvariate`` call.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from statistics import NormalDist
from typing import Any

__all__ = ["TrafficProfile", "DEFAULT_HOURLY", "QUANTILES", "bet_size_table"]

QUANTILES = 256

# Relative activity by hour of day (UTC), mean 1.0: quiet night, building afternoon, evening peak.
DEFAULT_HOURLY: tuple[float, ...] = (
    0.70, 0.50, 0.35, 0.25, 0.20, 0.20, 0.25, 0.40, 0.60, 0.75, 0.85, 0.95,
    1.00, 1.05, 1.10, 1.15, 1.25, 1.40, 1.60, 1.85, 2.00, 1.95, 1.60, 1.10,
)


@dataclass(slots=True)
class TrafficProfile:
    """Platform traffic in real units (money in the primary currency's units)."""

    concurrent_players: int = 400  # average players online
    bets_per_player_hour: float = 500.0  # average spins per online player per hour
    bet_median: float = 1.0
    bet_sigma: float = 0.9  # log-normal shape: spread of bet sizes
    bet_min: float = 0.10
    bet_max: float = 100.0
    bet_sizes: list[tuple[float, float]] = field(default_factory=list)  # [(size, weight)] overrides the log-normal
    hourly_profile: tuple[float, ...] = DEFAULT_HOURLY
    games: dict[str, float] = field(default_factory=dict)  # game_id -> share; {} = every game of the config equally
    brands: dict[str, float] = field(default_factory=dict)  # {} = every brand equally
    currencies: dict[str, float] = field(default_factory=dict)  # {} = the config's first currency only
    fx: dict[str, float] = field(default_factory=dict)  # units of currency per primary unit (bet sizes)
    segments: dict[str, float] = field(default_factory=lambda: {"VIP": 0.05})  # share of players in a segment
    kyc_share: float = 0.9
    session_bets: int = 300  # mean real bets per session (session spins reset)
    player_base: int = 0  # distinct players in the population; 0 = 3 x peak concurrent

    def __post_init__(self) -> None:
        if self.concurrent_players < 1 or self.bets_per_player_hour <= 0:
            raise ValueError("traffic needs at least one concurrent player and a positive bet rate")
        if len(self.hourly_profile) != 24 or min(self.hourly_profile) <= 0:
            raise ValueError("hourly_profile needs 24 positive values")
        m = sum(self.hourly_profile) / 24
        self.hourly_profile = tuple(v / m for v in self.hourly_profile)

    # ----------------------------------------------------------------------------- derived
    def players_at(self, hour: int) -> int:
        return max(1, round(self.concurrent_players * self.hourly_profile[hour]))

    def bets_per_hour(self, hour: int) -> float:
        return self.concurrent_players * self.hourly_profile[hour] * self.bets_per_player_hour

    @property
    def mean_bets_per_hour(self) -> float:
        return self.concurrent_players * self.bets_per_player_hour

    @property
    def population(self) -> int:
        peak = max(self.players_at(h) for h in range(24))
        return max(self.player_base, peak)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hourly_profile"] = [round(v, 4) for v in self.hourly_profile]
        d["bet_sizes"] = [list(x) for x in self.bet_sizes]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrafficProfile":
        d = dict(d)
        if "hourly_profile" in d:
            d["hourly_profile"] = tuple(float(x) for x in d["hourly_profile"])
        if "bet_sizes" in d:
            d["bet_sizes"] = [(float(a), float(b)) for a, b in d["bet_sizes"]]
        return cls(**d)


def bet_size_table(t: TrafficProfile, n: int = QUANTILES) -> list[Decimal]:
    """``n`` equally likely bet sizes (currency units, cents precision) representing the distribution."""
    out: list[Decimal] = []
    if t.bet_sizes:
        total = sum(w for _, w in t.bet_sizes)
        cum = []
        acc = 0.0
        for size, w in sorted(t.bet_sizes):
            acc += w / total
            cum.append((acc, size))
        for i in range(n):
            q = (i + 0.5) / n
            size = next(s for c, s in cum if q <= c + 1e-12)
            out.append(Decimal(str(round(size, 2))))
        return out
    nd = NormalDist(math.log(t.bet_median), t.bet_sigma)
    for i in range(n):
        v = math.exp(nd.inv_cdf((i + 0.5) / n))
        v = min(max(v, t.bet_min), t.bet_max)
        out.append(Decimal(str(round(v, 2))))
    return out
