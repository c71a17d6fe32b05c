"""A labelled population to measure the detectors: honest players and fraudsters of each pattern.

Honest players play like people: sessions of minutes with breaks, irregular intervals between
bets (log-normal, a coefficient of variation near 0.7), bets mostly above the minimum, one or two
games a session, a little faster while a jackpot is in its trigger window, their own device and
mostly their own network (some share a household's), and wins drawn from their bets' own odds.
Each fraudster does one thing a person would not (``Population.labels`` says which).  A seed
fixes everything.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .alerts import Pattern
from .signals import BetSeen, SessionSeen, WinSeen
from .thresholds import MINUTE_MS

Event = tuple[int, int, SessionSeen | BetSeen | WinSeen]  # (time, order, signal)

MIN_BET = 100_000  # 0.10 in micros
WIN_CHANCE_PER_MIN_BET = 1e-5  # a bet's chance to win a level, per minimum bet staked
GAMES = ("book-of-dead", "starburst", "gates-of-olympus", "sweet-bonanza", "wolf-gold", "big-bass")
AMOUNTS = (1, 1, 2, 2, 3, 5, 5, 10, 20)  # multiples of the minimum bet an honest player stakes
TRIGGER_EVERY_MS = 40 * MINUTE_MS  # each jackpot enters a trigger window this often...
TRIGGER_FOR_MS = 10 * MINUTE_MS  # ...and stays in it this long


@dataclass
class Population:
    seed: int = 7
    honest: int = 300
    per_pattern: int = 10  # fraudsters (accounts) of each pattern
    jackpots: int = 5
    duration_ms: int = 3 * 60 * MINUTE_MS
    start_ms: int = 1_780_000_000_000
    labels: dict[str, Pattern | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._events: list[Event] = []
        self._order = 0
        self._bets = 0
        self.jackpot_ids = [f"jp-{j}" for j in range(self.jackpots)]
        # each jackpot's trigger windows start at its own phase
        self._phase = {jp: self.rng.randrange(TRIGGER_EVERY_MS) for jp in self.jackpot_ids}

    # ------------------------------------------------------------------ public
    def events(self) -> list[Event]:
        """Every signal of the population in time order (sessions before the bets they hold)."""
        if not self._events:
            self._build()
        return self._events

    def near_trigger(self, jackpot_id: str, at_ms: int) -> bool:
        return (at_ms - self.start_ms + self._phase[jackpot_id]) % TRIGGER_EVERY_MS >= TRIGGER_EVERY_MS - TRIGGER_FOR_MS

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        households = [f"net-home-{i}" for i in range(self.honest // 3)]
        for i in range(self.honest):
            pid = f"honest-{i}"
            self.labels[pid] = None
            network = self.rng.choice(households) if self.rng.random() < 0.3 else f"net-{pid}"
            self._honest_player(pid, f"dev-{pid}", network)
        n = self.per_pattern
        for g in range(max(1, n // 4)):  # multi-accounting: groups of four accounts on one device
            device, network = f"dev-farm-{g}", f"net-farm-{g}"
            jp = self.rng.choice(self.jackpot_ids)
            start = self._start(90 * MINUTE_MS)
            for a in range(4):
                pid = f"multi-{g}-{a}"
                self.labels[pid] = Pattern.MULTI_ACCOUNTING
                self._session(pid, device, network, start + a * 20_000, 30 * MINUTE_MS, [jp], fast=1.0)
        for i in range(n):
            self._bot(f"bot-{i}")
        for g in range(max(1, n // 3)):
            self._colluders([f"collude-{g}-{a}" for a in range(3)])
        for i in range(n):
            self._manipulator(f"minbet-{i}")
        for i in range(n):
            self._lucky(f"lucky-{i}")
        for i in range(n):
            self._spiker(f"spike-{i}")
        self._events.sort(key=lambda e: (e[0], e[1]))

    def _start(self, latest_ms: int) -> int:
        return self.start_ms + self.rng.randrange(max(1, self.duration_ms - latest_ms))

    def _emit(self, at: int, signal: SessionSeen | BetSeen | WinSeen) -> None:
        self._order += 1
        self._events.append((at, self._order, signal))

    def _interval(self, mean_ms: float, cv: float = 0.7) -> int:
        sigma = math.sqrt(math.log(1 + cv * cv))
        return max(300, int(self.rng.lognormvariate(math.log(mean_ms) - sigma * sigma / 2, sigma)))

    def _bet(self, pid: str, at: int, jackpots: list[str], game: str, multiple: int, session: str,
             luck: float = 1.0) -> None:
        self._bets += 1
        bet_id = f"bet-{self._bets}"
        amount = MIN_BET * multiple
        for jp in jackpots:
            chance = WIN_CHANCE_PER_MIN_BET * multiple
            self._emit(at, BetSeen(bet_id, pid, jp, game, amount, MIN_BET, at, session, chance,
                                   self.near_trigger(jp, at)))
            if self.rng.random() < chance * luck:
                self._emit(at + 1, WinSeen(pid, jp, at + 1, f"win-{bet_id}-{jp}"))

    def _session(self, pid: str, device: str, network: str, start: int, length_ms: int, jackpots: list[str], *,
                 fast: float, mean_ms: float | None = None, luck: float = 1.0) -> int:
        session = f"s-{pid}-{start}"
        self._emit(start, SessionSeen(pid, session, start, device, network))
        mean = mean_ms or self.rng.uniform(5_000, 15_000)
        game = self.rng.choice(GAMES)
        at = start + self._interval(mean)
        end = min(start + length_ms, self.start_ms + self.duration_ms)
        while at < end:
            if self.rng.random() < 0.05:
                game = self.rng.choice(GAMES)
            self._bet(pid, at, jackpots, game, self.rng.choice(AMOUNTS), session, luck)
            hot = any(self.near_trigger(jp, at) for jp in jackpots)
            at += self._interval(mean / (1.3 if hot else 1.0) / fast)
        return end

    def _honest_player(self, pid: str, device: str, network: str, luck: float = 1.0) -> None:
        jackpots = self.rng.sample(self.jackpot_ids, self.rng.choice((1, 1, 2)))
        at = self._start(60 * MINUTE_MS)
        for _ in range(self.rng.randint(1, 3)):
            end = self._session(pid, device, network, at, self.rng.randint(10, 40) * MINUTE_MS, jackpots,
                                fast=1.0, luck=luck)
            at = end + self.rng.randint(10, 60) * MINUTE_MS
            if at >= self.start_ms + self.duration_ms:
                break

    # ------------------------------------------------------------------ fraudsters
    def _bot(self, pid: str) -> None:
        """Bets every 4 to 8 s (its own period), jitter of +-2%: farming eligibility."""
        self.labels[pid] = Pattern.BOT_PLAY
        jp = self.rng.choice(self.jackpot_ids)
        period = self.rng.randint(4_000, 8_000)
        start = self._start(60 * MINUTE_MS)
        session = f"s-{pid}"
        self._emit(start, SessionSeen(pid, session, start, f"dev-{pid}", f"net-{pid}"))
        at = start
        for _ in range(400):
            at += int(period * self.rng.uniform(0.98, 1.02))
            self._bet(pid, at, [jp], GAMES[0], 1, session)

    def _colluders(self, pids: list[str]) -> None:
        """Three accounts (own devices and networks) betting together on one jackpot during its
        trigger window, each bet within a few hundred ms of the leader's."""
        jp = self.rng.choice(self.jackpot_ids)
        windows = [w for w in range(self.start_ms, self.start_ms + self.duration_ms, 60_000) if self.near_trigger(jp, w)]
        start = self.rng.choice(windows[: max(1, len(windows) - 10)])
        times, at = [], start
        while at < start + 8 * MINUTE_MS:
            at += self._interval(9_000)
            times.append(at)
        for pid in pids:
            self.labels[pid] = Pattern.COLLUSION
            session = f"s-{pid}"
            self._emit(start, SessionSeen(pid, session, start, f"dev-{pid}", f"net-{pid}"))
            game = self.rng.choice(GAMES)
            for t in times:
                self._bet(pid, t + int(self.rng.gauss(0, 200)), [jp], game, self.rng.choice(AMOUNTS), session)

    def _manipulator(self, pid: str) -> None:
        """Minimum bets every 1.5 to 3.5 s, alternating between three games, in bursts of 5 minutes."""
        self.labels[pid] = Pattern.CONTRIBUTION_MANIPULATION
        jackpots = self.rng.sample(self.jackpot_ids, 2)
        games = self.rng.sample(GAMES, 3)
        start = self._start(30 * MINUTE_MS)
        session = f"s-{pid}"
        self._emit(start, SessionSeen(pid, session, start, f"dev-{pid}", f"net-{pid}"))
        at, k = start, 0
        while at < start + 5 * MINUTE_MS:
            at += self._interval(2_500, cv=0.3)
            self._bet(pid, at, jackpots, games[k % 3], 1, session)
            k += 1

    def _lucky(self, pid: str) -> None:
        """Plays like an honest player, and wins 300 times as often as its bets' odds say."""
        self.labels[pid] = Pattern.WIN_FREQUENCY
        jackpots = self.jackpot_ids[:]
        at = self._start(100 * MINUTE_MS)
        for _ in range(2):
            at = self._session(pid, f"dev-{pid}", f"net-{pid}", at, 45 * MINUTE_MS, jackpots, fast=1.0,
                               luck=300.0) + 5 * MINUTE_MS

    def _spiker(self, pid: str) -> None:
        """A slow regular of one jackpot (a bet a minute or so) who bets every 2 s as the jackpot
        enters its trigger window."""
        self.labels[pid] = Pattern.VELOCITY_SPIKE
        jp = self.rng.choice(self.jackpot_ids)
        windows = [w for w in range(self.start_ms + 40 * MINUTE_MS, self.start_ms + self.duration_ms - 5 * MINUTE_MS,
                                    60_000) if self.near_trigger(jp, w) and not self.near_trigger(jp, w - 60_000)]
        spike = self.rng.choice(windows)
        session = f"s-{pid}"
        start = spike - 35 * MINUTE_MS
        self._emit(start, SessionSeen(pid, session, start, f"dev-{pid}", f"net-{pid}"))
        at = start
        while at < spike:
            at += self._interval(60_000, cv=0.5)
            if at < spike:
                self._bet(pid, at, [jp], GAMES[1], 2, session)
        at = spike
        while at < spike + 3 * MINUTE_MS:
            at += self._interval(2_000, cv=0.5)
            self._bet(pid, at, [jp], GAMES[1], 2, session)
