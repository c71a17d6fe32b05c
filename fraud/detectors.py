"""One detector per fraud pattern, each fed the signals it needs and keeping bounded state.

Every detector returns the alerts a signal raises (the engine applies the cooldown).  State is
kept per key and pruned by its window as time moves on, so memory follows the active players,
not the history.  Time is the signals' own (``at_ms``): a replay raises the same alerts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from dataclasses import dataclass

from .alerts import FraudAlert, Pattern
from .signals import BetSeen, SessionSeen, WinSeen
from .thresholds import MINUTE_MS, Thresholds


class MultiAccounting:
    """Several accounts from one device (or network) contributing to one jackpot at once."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.origin: dict[str, tuple[str | None, str | None]] = {}  # player -> (device, network)
        # (jackpot, "device"|"network", hash) -> player -> last bet time
        self.seen: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)

    def on_session(self, s: SessionSeen) -> None:
        self.origin[s.player_id] = (s.device, s.network)

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        device, network = self.origin.get(b.player_id, (None, None))
        out = []
        for kind, value, needed in (("device", device, self.t.multi_device_accounts),
                                    ("network", network, self.t.multi_network_accounts)):
            if not value:
                continue
            players = self.seen[(b.jackpot_id, kind, value)]
            players[b.player_id] = b.at_ms
            horizon = b.at_ms - self.t.multi_window_ms
            for pid in [p for p, at in players.items() if at < horizon]:
                del players[pid]
            if len(players) >= needed:
                out.append(FraudAlert(Pattern.MULTI_ACCOUNTING, f"{kind}:{value}:{b.jackpot_id}",
                                      tuple(sorted(players)), b.jackpot_id, b.at_ms, min(players.values()),
                                      {"shared": kind, "hash": value, "accounts": len(players),
                                       "window_ms": self.t.multi_window_ms}))
        return out


class BotPlay:
    """Intervals between a player's bets too regular for a human (coefficient of variation)."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.times: dict[str, deque[int]] = {}
        self.last_bet: dict[str, str] = {}

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        if self.last_bet.get(b.player_id) == b.bet_id:
            return []  # the same bet, contributing to another jackpot
        self.last_bet[b.player_id] = b.bet_id
        times = self.times.setdefault(b.player_id, deque(maxlen=self.t.bot_intervals + 1))
        times.append(b.at_ms)
        if len(times) <= self.t.bot_intervals:
            return []
        gaps = [b2 - b1 for b1, b2 in zip(times, list(times)[1:])]
        mean = sum(gaps) / len(gaps)
        if mean <= 0 or mean > self.t.bot_max_mean_ms:
            return []
        cv = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps)) / mean
        if cv > self.t.bot_max_cv:
            return []
        return [FraudAlert(Pattern.BOT_PLAY, f"player:{b.player_id}", (b.player_id,), None, b.at_ms, times[0],
                           {"intervals": len(gaps), "mean_interval_ms": round(mean), "cv": round(cv, 4),
                            "max_cv": self.t.bot_max_cv})]


class ContributionManipulation:
    """Minimum qualifying bets in rapid succession across several games."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.minimal: dict[str, deque[tuple[int, str, str]]] = {}  # player -> (time, game, bet id)

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        if b.amount_micros > b.min_bet_micros:
            return []
        bets = self.minimal.setdefault(b.player_id, deque())
        if bets and bets[-1][2] == b.bet_id:
            return []  # the same bet, contributing to another jackpot
        bets.append((b.at_ms, b.game_id, b.bet_id))
        while bets and bets[0][0] < b.at_ms - self.t.manipulation_window_ms:
            bets.popleft()
        games = {g for _, g, _ in bets}
        if len(bets) < self.t.manipulation_min_bets or len(games) < self.t.manipulation_min_games:
            return []
        return [FraudAlert(Pattern.CONTRIBUTION_MANIPULATION, f"player:{b.player_id}", (b.player_id,), b.jackpot_id,
                           b.at_ms, bets[0][0], {"minimum_bets": len(bets), "games": sorted(games),
                                                 "window_ms": self.t.manipulation_window_ms,
                                                 "min_bet_micros": b.min_bet_micros})]


def poisson_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam), summed from k upwards (no cancellation when it is tiny)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    if lam >= k:  # the tail is large: its complement is the accurate sum
        return max(0.0, 1.0 - sum(math.exp(-lam + i * math.log(lam) - math.lgamma(i + 1)) for i in range(k)))
    total, i = 0.0, k
    term = math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))
    while term > total * 1e-16 and i < k + 10_000:
        total += term
        i += 1
        term *= lam / i
    return total


@dataclass
class _Odds:
    expected: float = 0.0  # wins the bets' own odds explain
    wins: int = 0
    since_ms: int = 0
    last_ms: int = 0


class WinFrequency:
    """A player winning more than the engine's own odds explain: a one-sided Poisson test of the
    wins against the sum of the win chances of the player's bets (every jackpot together)."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.players: dict[str, _Odds] = {}

    def on_bet(self, b: BetSeen) -> None:
        odds = self.players.get(b.player_id)
        if odds is None:
            odds = self.players[b.player_id] = _Odds(since_ms=b.at_ms)
        odds.expected += b.win_chance
        odds.last_ms = b.at_ms

    def on_win(self, w: WinSeen) -> list[FraudAlert]:
        odds = self.players.get(w.player_id)
        if odds is None:
            odds = self.players[w.player_id] = _Odds(since_ms=w.at_ms)
        odds.wins += 1
        odds.last_ms = w.at_ms
        if odds.wins < self.t.win_min_wins:
            return []
        p = poisson_tail(odds.wins, odds.expected)
        if p >= self.t.win_alpha:
            return []
        return [FraudAlert(Pattern.WIN_FREQUENCY, f"player:{w.player_id}", (w.player_id,), w.jackpot_id, w.at_ms,
                           odds.since_ms, {"wins": odds.wins, "expected_wins": round(odds.expected, 6),
                                           "p_value": p, "alpha": self.t.win_alpha,
                                           "test": "one-sided Poisson: P(X >= wins | expected wins)"})]


class VelocitySpike:
    """A player's bet rate on a jackpot in its trigger window against their own rate there just
    before.  Only a player present throughout (no gap longer than ``velocity_max_gap_ms`` since the
    start of the baseline window) is compared: a newcomer or a player back from a break has no
    normal to deviate from, and speeding up when a jackpot heats is what honest players do too
    (a fraction of the ratio asked)."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.paces: dict[tuple[str, str], deque[int]] = {}

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        t = self.t
        times = self.paces.setdefault((b.player_id, b.jackpot_id), deque())
        times.append(b.at_ms)
        split = b.at_ms - t.velocity_recent_ms
        start = split - t.velocity_baseline_ms
        while times and times[0] < start:
            times.popleft()
        if not b.near_trigger or times[0] > start + t.velocity_max_gap_ms:
            return []
        recent = sum(1 for at in times if at > split)
        if recent < t.velocity_min_bets:
            return []
        if max(b2 - b1 for b1, b2 in zip(times, list(times)[1:])) > t.velocity_max_gap_ms:
            return []
        baseline = max(t.velocity_floor_per_min, (len(times) - recent) / (t.velocity_baseline_ms / MINUTE_MS))
        rate = recent / (t.velocity_recent_ms / MINUTE_MS)
        if rate < t.velocity_ratio * baseline:
            return []
        return [FraudAlert(Pattern.VELOCITY_SPIKE, f"player:{b.player_id}:{b.jackpot_id}", (b.player_id,), b.jackpot_id,
                           b.at_ms, split, {"recent_per_min": round(rate, 2), "baseline_per_min": round(baseline, 2),
                                            "ratio": round(rate / baseline, 2), "in_trigger_window": True})]


class Collusion:
    """Accounts whose bets on one jackpot land together, bet after bet, far beyond chance.

    Every ``every_ms`` of a jackpot's time, the window's bets go into bins of the tolerance, and
    each account with enough bets is compared with the others: the share of its bets with a bet
    of the other in the same or a neighbouring bin (within one to two tolerances), which must
    reach ``collusion_min_share`` and exceed by 0.3 less than that the share chance gives at the
    other's pace (three bins' width times its bets per ms); a group is an account and every
    partner that is mutual with it."""

    every_ms = 30_000

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.bets: dict[str, deque[tuple[int, str]]] = {}  # jackpot -> (time, player)
        self.checked: dict[str, int] = {}

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        bets = self.bets.setdefault(b.jackpot_id, deque())
        bets.append((b.at_ms, b.player_id))
        while bets and bets[0][0] < b.at_ms - self.t.collusion_window_ms:
            bets.popleft()
        if b.at_ms - self.checked.get(b.jackpot_id, -self.every_ms) < self.every_ms:
            return []
        self.checked[b.jackpot_id] = b.at_ms
        return self._groups(b.jackpot_id, bets, b.at_ms)

    def _groups(self, jackpot_id: str, bets: deque, now: int) -> list[FraudAlert]:
        t = self.t
        tol = t.collusion_tolerance_ms
        by_player: dict[str, list[int]] = defaultdict(list)
        for at, pid in bets:
            by_player[pid].append(at // tol)
        eligible = {p for p, bins in by_player.items() if len(bins) >= t.collusion_min_bets}
        if len(eligible) < t.collusion_min_accounts:
            return []
        in_bin: dict[int, set[str]] = defaultdict(set)
        for p in eligible:
            for k in by_player[p]:
                in_bin[k].add(p)
        empty: set[str] = set()
        span = max(1, bets[-1][0] - bets[0][0])
        share: dict[tuple[str, str], float] = {}
        for p in eligible:
            together: Counter[str] = Counter()
            for k in by_player[p]:
                together.update(in_bin.get(k - 1, empty) | in_bin[k] | in_bin.get(k + 1, empty))
            n = len(by_player[p])
            for q, hits in together.items():
                if q == p:
                    continue
                chance = min(1.0, 3 * tol * len(by_player[q]) / span)
                s = hits / n
                if s >= t.collusion_min_share and s - chance >= t.collusion_min_share - 0.3:
                    share[(p, q)] = s
        out, grouped = [], set()
        for p in sorted(eligible):
            if p in grouped:
                continue
            group = {p} | {q for (a, q) in share if a == p and (q, p) in share}
            if len(group) < t.collusion_min_accounts:
                continue
            grouped |= group
            members = tuple(sorted(group))
            pairs = [share[(a, c)] for a in members for c in members if (a, c) in share]
            out.append(FraudAlert(Pattern.COLLUSION, "group:" + ",".join(members), members, jackpot_id, now,
                                  min(min(by_player[m]) for m in members) * tol,
                                  {"accounts": len(members), "min_share_together": round(min(pairs), 3),
                                   "tolerance_ms": tol, "window_ms": t.collusion_window_ms}))
        return out
