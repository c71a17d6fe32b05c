"""One detector per fraud pattern, each fed the signals it needs and keeping bounded state.

Every detector returns the alerts a signal raises (the engine applies the cooldown).  State is
kept per key, trimmed to its window as signals arrive and swept of idle keys (``prune``, which
the engine calls as time moves on), so memory follows the active players, not the history.
Time is the signals' own (``at_ms``): the same signals in the same order raise the same alerts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque

from .alerts import FraudAlert, Pattern
from .signals import BetSeen, SessionSeen, WinSeen
from .thresholds import MINUTE_MS, Thresholds


class MultiAccounting:
    """Several accounts from one device (or network) contributing to one jackpot at once.  A bet
    counts where its own session came from (a player on a phone and a tablet is on both)."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.sessions: dict[str, tuple[str | None, str | None, int]] = {}  # session -> (device, network, last use)
        self.latest: dict[str, str] = {}  # player -> their latest session (a bet naming none)
        # (jackpot, "device"|"network", hash) -> player -> last bet time
        self.seen: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)

    def on_session(self, s: SessionSeen) -> None:
        self.sessions[s.session_id] = (s.device, s.network, s.at_ms)
        self.latest[s.player_id] = s.session_id

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        session = b.session_id if b.session_id in self.sessions else self.latest.get(b.player_id)
        if session is None:
            return []
        device, network, _ = self.sessions[session]
        self.sessions[session] = (device, network, b.at_ms)
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

    def prune(self, now: int) -> None:
        horizon = now - self.t.multi_window_ms
        for key in [k for k, players in self.seen.items() if max(players.values(), default=0) < horizon]:
            del self.seen[key]
        idle = now - self.t.idle_ms
        for sid in [sid for sid, (_, _, at) in self.sessions.items() if at < idle]:
            del self.sessions[sid]
        for pid in [pid for pid, sid in self.latest.items() if sid not in self.sessions]:
            del self.latest[pid]


class _Recent:
    """The last few bet ids of each player: a bet contributing to several jackpots is one bet,
    however its copies interleave with the player's next bets."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self.ids: dict[str, deque[str]] = {}

    def first(self, player_id: str, bet_id: str) -> bool:
        ids = self.ids.setdefault(player_id, deque(maxlen=self.size))
        if bet_id in ids:
            return False
        ids.append(bet_id)
        return True

    def forget(self, keep) -> None:
        for pid in [p for p in self.ids if not keep(p)]:
            del self.ids[pid]


class BotPlay:
    """Intervals between a player's bets too regular for a human (coefficient of variation)."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.times: dict[str, deque[int]] = {}
        self.recent = _Recent()

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        if b.autoplay or not self.recent.first(b.player_id, b.bet_id):
            return []  # autoplay is regular by design; a copy for another jackpot is the same bet
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

    def prune(self, now: int) -> None:
        idle = now - self.t.idle_ms
        for pid in [p for p, times in self.times.items() if times[-1] < idle]:
            del self.times[pid]
        self.recent.forget(self.times.__contains__)


class ContributionManipulation:
    """Minimum qualifying bets in rapid succession across several games."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.minimal: dict[str, deque[tuple[int, str, str]]] = {}  # player -> (time, game, bet id)
        self.recent = _Recent()

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        if b.amount_micros > b.min_bet_micros or not self.recent.first(b.player_id, b.bet_id):
            return []  # above the minimum, or a copy of a bet for another jackpot
        bets = self.minimal.setdefault(b.player_id, deque())
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

    def prune(self, now: int) -> None:
        horizon = now - self.t.manipulation_window_ms
        for pid in [p for p, bets in self.minimal.items() if bets[-1][0] < horizon]:
            del self.minimal[pid]
        self.recent.forget(self.minimal.__contains__)


def _log_sum_exp(logs: list[float]) -> float:
    m = max(logs)
    return math.exp(m) * sum(math.exp(x - m) for x in logs) if m > -math.inf else 0.0


def poisson_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam): summed from k upwards until the terms no longer count (no
    cancellation when it is tiny), or as the complement of the head when it is large."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    log_term = lambda i: -lam + i * math.log(lam) - math.lgamma(i + 1)  # noqa: E731
    if lam >= k:
        return max(0.0, 1.0 - _log_sum_exp([log_term(i) for i in range(k)]))
    total, i = 0.0, k
    term = math.exp(log_term(k))
    while term > total * 1e-17 and i < k + 100 + 50 * math.sqrt(lam):
        total += term
        i += 1
        term *= lam / i
    return total


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    head = math.lgamma(n + 1)
    return min(1.0, _log_sum_exp([head - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
                                  for i in range(k, n + 1)]))


DAY_MS = 24 * 60 * MINUTE_MS


class WinFrequency:
    """A player winning more than the engine's own odds explain: a one-sided Poisson test of the
    player's wins over the last ``win_horizon_days`` against the sum of the win chances of their
    bets over the same days (every jackpot together)."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.days: dict[str, deque[list]] = {}  # player -> [day, expected wins, wins], oldest first

    def _today(self, player_id: str, at_ms: int) -> list:
        days = self.days.setdefault(player_id, deque())
        day = at_ms // DAY_MS
        if not days or days[-1][0] < day:
            days.append([day, 0.0, 0])
        while days[0][0] <= day - self.t.win_horizon_days:
            days.popleft()
        return days[-1]  # a signal older than the newest day counts in it

    def on_bet(self, b: BetSeen) -> None:
        self._today(b.player_id, b.at_ms)[1] += b.win_chance

    def on_win(self, w: WinSeen) -> list[FraudAlert]:
        self._today(w.player_id, w.at_ms)[2] += 1
        days = self.days[w.player_id]
        wins = sum(d[2] for d in days)
        if wins < self.t.win_min_wins:
            return []
        expected = sum(d[1] for d in days)
        p = poisson_tail(wins, expected)
        if p >= self.t.win_alpha:
            return []
        return [FraudAlert(Pattern.WIN_FREQUENCY, f"player:{w.player_id}", (w.player_id,), w.jackpot_id, w.at_ms,
                           days[0][0] * DAY_MS, {"wins": wins, "expected_wins": round(expected, 6), "p_value": p,
                                                 "alpha": self.t.win_alpha, "days": self.t.win_horizon_days,
                                                 "test": "one-sided Poisson: P(X >= wins | expected wins)"})]

    def prune(self, now: int) -> None:
        oldest = now // DAY_MS - self.t.win_horizon_days
        for pid in [p for p, days in self.days.items() if days[-1][0] <= oldest]:
            del self.days[pid]


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

    def prune(self, now: int) -> None:
        horizon = now - self.t.velocity_recent_ms - self.t.velocity_baseline_ms
        for key in [k for k, times in self.paces.items() if times[-1] < horizon]:
            del self.paces[key]


class Collusion:
    """Accounts whose bets on one jackpot land together, bet after bet, far beyond chance.

    Every ``every_ms`` of a jackpot's time, the window's bets go into bins of the tolerance.  For
    each account with enough bets, the bets with a bet of another account in the same or a
    neighbouring bin (within one to two tolerances) are its hits beside that account; chance
    gives a hit with p = 1 - exp(-3 x tolerance x the other's bets per ms), and the pair counts
    when the hits are at least ``collusion_min_share`` of the bets and a binomial test puts them
    beyond chance (below ``collusion_alpha``), in both directions.  A group is an account and
    every partner mutual with it.  A bin holding more than ``collusion_crowd`` accounts is a
    crowd (a live game's round closing) and is left out: only pairs met in uncrowded bins are
    compared, so the work follows the bets, not the square of the players."""

    every_ms = 30_000

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.bets: dict[str, deque[tuple[int, str]]] = {}  # jackpot -> (time, player)
        self.checked: dict[str, int] = {}  # jackpot -> the last check's time bucket

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        bets = self.bets.setdefault(b.jackpot_id, deque())
        bets.append((b.at_ms, b.player_id))
        while bets and bets[0][0] < b.at_ms - self.t.collusion_window_ms:
            bets.popleft()
        bucket = b.at_ms // self.every_ms
        if self.checked.get(b.jackpot_id) == bucket:
            return []
        self.checked[b.jackpot_id] = bucket
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
        crowded = {k for k, members in in_bin.items() if len(members) > t.collusion_crowd}
        empty: set[str] = set()
        span = max(1, bets[-1][0] - bets[0][0])
        share: dict[tuple[str, str], float] = {}
        for p in eligible:
            together: Counter[str] = Counter()
            for k in by_player[p]:
                if k in crowded:
                    continue
                together.update(in_bin.get(k - 1, empty) | in_bin[k] | in_bin.get(k + 1, empty))
            n = len(by_player[p])
            for q, hits in together.items():
                if q == p or hits < t.collusion_min_share * n:
                    continue
                chance = 1.0 - math.exp(-3 * tol * len(by_player[q]) / span)
                if binomial_tail(hits, n, chance) < t.collusion_alpha:
                    share[(p, q)] = hits / n
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
                                   "tolerance_ms": tol, "window_ms": t.collusion_window_ms,
                                   "test": "binomial: hits beside a partner against the chance its pace gives"}))
        return out

    def prune(self, now: int) -> None:
        horizon = now - self.t.collusion_window_ms
        for jid in [j for j, bets in self.bets.items() if not bets or bets[-1][0] < horizon]:
            del self.bets[jid]
            self.checked.pop(jid, None)
