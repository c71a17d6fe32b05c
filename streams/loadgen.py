"""A reference bet producer: realistic Avro streams for providers, the demo, tests and benchmarks.

What a provider's traffic looks like, scaled down:

* **Players** have a home brand and currency, a personal stake level (log-normal; a few VIPs
  stake ten to twenty times more), favourite games and an activity level (a few players
  produce most of the spins).
* **Sessions**: a player opens a session (``PlayerSessionStart``), plays a run of spins
  mostly on one game, and leaves (``PlayerSessionEnd``); every bet carries its session id.
  Session events go to the ``player-sessions`` topic, bets to ``bets``, both keyed by
  ``player_id`` so a player's events stay in order on one partition.
* **Game mix and bet sizes**: the day-one portfolio's games by popularity, plus a little
  traffic on a game and a brand no jackpot takes (the router must filter it); stakes in whole
  cents, table games higher; 5% bonus money.
* **Brands and currencies** come from the demo portfolio (``engine/catalog.py``), so the
  bets hit the day-one jackpots.
* **Peak and off-peak**: with ``profile="daily"`` the rate follows a 24-hour curve (quiet
  at 04:00 UTC, peak around 20:00) whose daily mean is ``rate``; ``day_length_s`` compresses
  a day for demos.

The stream is reproducible given ``seed`` (ids included); timestamps are the wall clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TextIO

from jackpot.settings import Settings
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import producer
from jackpot.streams.topics import BETS, SESSIONS, ensure_topics

BET_ID_NAMESPACE = uuid.UUID("6f1b0d9e-4c55-4d4b-9a35-0d7e3b1c2a10")
# Inbound session events, keyed like the bets so a player's events share a partition.


# Relative popularity of games; table games (stake x5) fund little or nothing.
GAME_POPULARITY = {
    "starburst": 25,
    "book-of-dead": 22,
    "gates-of-olympus": 20,
    "sweet-bonanza": 15,
    "big-bass-bonanza": 10,
    "blackjack-classic": 5,
}
TABLE_GAMES = {"blackjack-classic", "lightning-roulette"}
OFF_PORTFOLIO_GAME = ("lightning-roulette", 3)  # a game no jackpot takes
CURRENCY_SHARE = {"EUR": 60, "USD": 30, "RON": 10}
# Stake scale per currency (a 1.00 EUR spin is about 5 RON).
CURRENCY_SCALE = {"EUR": 1.0, "USD": 1.1, "RON": 5.0, "GBP": 0.85, "SEK": 11.0}

# Share of the day's traffic per UTC hour (00..23), from a typical European casino day;
# normalised below so the daily mean is exactly 1.
_HOURLY = (
    0.55,
    0.42,
    0.32,
    0.26,
    0.24,
    0.27,
    0.36,
    0.50,
    0.65,
    0.76,
    0.84,
    0.90,
    0.96,
    0.98,
    0.98,
    1.02,
    1.10,
    1.25,
    1.45,
    1.68,
    1.85,
    1.82,
    1.52,
    0.92,
)
DAILY_PROFILE = tuple(h * 24 / sum(_HOURLY) for h in _HOURLY)


def profile_multiplier(hour: float, profile: str = "daily") -> float:
    """Rate multiplier at a (fractional) UTC hour; piecewise linear between the hourly points."""
    if profile == "flat":
        return 1.0
    if profile != "daily":
        raise ValueError(f"unknown profile {profile!r} (flat or daily)")
    h = hour % 24
    i = int(h)
    frac = h - i
    return DAILY_PROFILE[i] * (1 - frac) + DAILY_PROFILE[(i + 1) % 24] * frac


@dataclass(frozen=True)
class Brand:
    brand_id: str
    weight: float
    currencies: tuple[tuple[str, float], ...]


def portfolio_brands(other_share: float = 0.05) -> list[Brand]:
    """The demo portfolio's brands with the currencies its jackpots take, plus an outside brand."""
    from jackpot.engine.catalog import day_one_jackpots, stable_id

    currencies: dict[str, set[str]] = {}
    for jp in day_one_jackpots():
        for b in jp.brands:
            currencies.setdefault(str(b), set()).update(jp.currencies)
    share = (1 - other_share) / max(len(currencies), 1)
    brands = [
        Brand(b, share, tuple((c, CURRENCY_SHARE.get(c, 5)) for c in sorted(cs)))
        for b, cs in sorted(currencies.items())
    ]
    if other_share > 0:
        brands.append(Brand(str(stable_id("brand", "partner")), other_share, (("EUR", 50), ("GBP", 50))))
    return brands


def portfolio_games() -> dict[str, float]:
    """Every game of the day-one jackpots, weighted by popularity, plus one outside game."""
    from jackpot.engine.catalog import day_one_jackpots

    games: dict[str, float] = {}
    for jp in day_one_jackpots():
        for g in jp.games:
            games[g.game_id] = GAME_POPULARITY.get(g.game_id, 5)
    games[OFF_PORTFOLIO_GAME[0]] = OFF_PORTFOLIO_GAME[1]
    return games


@dataclass
class Player:
    player_id: str
    brand_id: str
    currency: str
    stake: float  # median stake in currency units
    vip: bool
    favourites: list[str]
    session: "Session | None" = None
    # kept for callers of the first version
    session_id: str = ""
    spins_left: int = 0


@dataclass
class Session:
    player: Player
    session_id: str
    spins_left: int
    game: str
    spins: int = 0


@dataclass
class StreamStats:
    bets: int = 0
    sessions_started: int = 0
    sessions_ended: int = 0
    by_currency: dict[str, int] = field(default_factory=dict)
    by_game: dict[str, int] = field(default_factory=dict)


class BetStream:
    """Deterministic given the seed: the same seed gives the same players, bets and ids.

    ``step()`` returns the events of one spin: the bet, preceded by a PlayerSessionStart when
    it opens a session and followed by a PlayerSessionEnd when it is the session's last.
    """

    def __init__(
        self,
        players: int = 1000,
        seed: int | None = None,
        bonus_share: float = 0.05,
        brands: list[Brand] | None = None,
        games: dict[str, float] | None = None,
        mean_spins: float = 60.0,
        active_share: float = 0.12,
        vip_share: float = 0.03,
    ) -> None:
        if players < 1:
            raise ValueError("players must be at least 1")
        self.rng = random.Random(seed)
        self.seed = seed if seed is not None else self.rng.randrange(1 << 30)
        self.brands = brands if brands is not None else portfolio_brands()
        game_weights = games if games is not None else portfolio_games()
        self.games = list(game_weights)
        self.game_weights = [game_weights[g] for g in self.games]
        self.bonus_share = bonus_share
        self.mean_spins = mean_spins
        self.active_share = active_share
        self.players = [self._player(i, vip_share) for i in range(players)]
        self._activity = list(itertools.accumulate(self.rng.paretovariate(1.5) for _ in self.players))
        self.active: list[Session] = []
        self.n = 0
        self.last_now = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        self.sessions = 0
        self.stats = StreamStats()

    # ---------------------------------------------------------------- people
    def _player(self, i: int, vip_share: float) -> Player:
        rng = self.rng
        brand = rng.choices(self.brands, [b.weight for b in self.brands])[0]
        currency = rng.choices([c for c, _ in brand.currencies], [w for _, w in brand.currencies])[0]
        vip = rng.random() < vip_share
        stake = math.exp(rng.gauss(math.log(0.80), 0.9)) * (rng.uniform(10, 20) if vip else 1.0)
        favourites = rng.choices(self.games, self.game_weights, k=3)
        return Player(
            f"player-{i:06d}", brand.brand_id, currency, stake * CURRENCY_SCALE.get(currency, 1.0), vip, favourites
        )

    def profiles(self, now: dt.datetime | None = None) -> list[tuple[str, dict]]:
        """A PlayerProfile per player, as a provider's CRM would send them: segments, and marketing
        consent (push for most, email for some, a few who refuse marketing).  Deterministic: drawn
        from a generator of their own, so the bets of a seed do not change with them."""
        rng = random.Random(f"{self.seed}:profiles")
        now = now or dt.datetime.now(dt.timezone.utc)
        out = []
        for p in self.players:
            consent = [c for c, share in (("push", 0.85), ("email", 0.5), ("sms", 0.2)) if rng.random() < share]
            out.append(("PlayerProfile", {
                "event_id": str(uuid.uuid5(BET_ID_NAMESPACE, f"{self.seed}:profile:{p.player_id}")), "timestamp": now,
                "player_id": p.player_id, "brand_id": p.brand_id, "segments": ["vip"] if p.vip else ["regular"],
                "marketing_opt_out": rng.random() < 0.05, "consent": consent}))
        return out

    def _pick_idle_player(self) -> Player | None:
        # Activity is heavy-tailed (each player's weight is a Pareto draw): regulars come back often.
        for _ in range(20):
            p = self.rng.choices(self.players, cum_weights=self._activity)[0]
            if p.session is None:
                return p
        idle = [p for p in self.players if p.session is None]
        return self.rng.choice(idle) if idle else None

    def _open(self, now: dt.datetime) -> tuple[str, dict] | None:
        p = self._pick_idle_player()
        if p is None:
            return None
        self.sessions += 1
        sid = str(uuid.uuid5(BET_ID_NAMESPACE, f"{self.seed}:session:{self.sessions}"))
        game = self.rng.choice(p.favourites)
        s = Session(p, sid, int(self.rng.expovariate(1 / self.mean_spins)) + 1, game)
        p.session = s
        p.session_id = sid
        self.active.append(s)
        self.stats.sessions_started += 1
        return "PlayerSessionStart", {
            "event_id": str(uuid.uuid5(BET_ID_NAMESPACE, f"{self.seed}:start:{sid}")),
            "timestamp": now,
            "player_id": p.player_id,
            "brand_id": p.brand_id,
            "session_id": sid,
        }

    def _close(self, s: Session, now: dt.datetime) -> tuple[str, dict]:
        self.active.remove(s)
        s.player.session = None
        self.stats.sessions_ended += 1
        return "PlayerSessionEnd", {
            "event_id": str(uuid.uuid5(BET_ID_NAMESPACE, f"{self.seed}:end:{s.session_id}")),
            "timestamp": now,
            "player_id": s.player.player_id,
            "brand_id": s.player.brand_id,
            "session_id": s.session_id,
        }

    # ------------------------------------------------------------------ bets
    def bet_amount(self, player: Player | None = None, game: str = "") -> Decimal:
        """A stake in whole cents around the player's own level; table games stake higher."""
        stake = player.stake if player is not None else 1.0
        if game in TABLE_GAMES:
            stake *= 5
        amount = stake * math.exp(self.rng.gauss(0, 0.35))
        top = 1000.0 if player is not None and player.vip else 100.0
        scale = CURRENCY_SCALE.get(player.currency, 1.0) if player is not None else 1.0
        cents = int(round(max(0.10 * scale, min(amount, top * scale)) * 100))
        return Decimal(cents).scaleb(-2)

    def target_active(self, multiplier: float = 1.0) -> int:
        return max(1, min(len(self.players), int(round(len(self.players) * self.active_share * multiplier))))

    def step(self, now: dt.datetime | None = None, multiplier: float = 1.0) -> list[tuple[str, dict]]:
        """One spin: ``[(event name, record), ...]`` with exactly one BetPlaced."""
        now = self._stamp(now)
        out: list[tuple[str, dict]] = []
        target = self.target_active(multiplier)
        while len(self.active) < target:
            opened = self._open(now)
            if opened is None:
                break
            out.append(opened)
        s = self.rng.choice(self.active)
        p = s.player
        if self.rng.random() < 0.08:  # now and then a player tries another game
            s.game = self.rng.choices(self.games, self.game_weights)[0]
        self.n += 1
        s.spins += 1
        s.spins_left -= 1
        bet = {
            "event_id": str(uuid.uuid5(BET_ID_NAMESPACE, f"{self.seed}:{self.n}")),
            "timestamp": now,
            "player_id": p.player_id,
            "game_id": s.game,
            "brand_id": p.brand_id,
            "currency": p.currency,
            "bet_amount": self.bet_amount(p, s.game),
            "bet_type": "bonus" if self.rng.random() < self.bonus_share else "real",
            "session_id": s.session_id,
        }
        out.append(("BetPlaced", bet))
        st = self.stats
        st.bets += 1
        st.by_currency[p.currency] = st.by_currency.get(p.currency, 0) + 1
        st.by_game[s.game] = st.by_game.get(s.game, 0) + 1
        if s.spins_left <= 0 or len(self.active) > target:
            out.append(self._close(s, now))
        return out

    def _stamp(self, now: dt.datetime | None) -> dt.datetime:
        """The provider's clock: the wall clock, never going back (a stepped system clock would
        stamp a bet before the start of its own session)."""
        self.last_now = max(self.last_now, now or dt.datetime.now(dt.timezone.utc))
        return self.last_now

    def next(self, now: dt.datetime | None = None) -> dict:
        """The next bet alone (session events are generated but not returned)."""
        return next(rec for name, rec in self.step(now) if name == "BetPlaced")

    def close_all(self, now: dt.datetime | None = None) -> list[tuple[str, dict]]:
        """End every open session (at the end of a run)."""
        now = self._stamp(now)
        return [self._close(s, now) for s in list(self.active)]

    def __iter__(self) -> Iterator[list[tuple[str, dict]]]:
        while True:
            yield self.step()


# ----------------------------------------------------------------- producing
async def produce_bets(settings: Settings, bets: list[dict]) -> None:
    """Produce the given BetPlaced records, keyed by player_id, and wait for the acks."""
    codec = catalog()
    async with producer(settings) as prod:
        futures = [
            await prod.send(settings.topic(BETS.name), key=b["player_id"].encode(), value=codec.encode("BetPlaced", b))
            for b in bets
        ]
        await asyncio.gather(*futures)


async def produce_player_events(settings: Settings, topic: str, records: list[tuple[str, dict]]) -> None:
    """Produce (schema name, record) pairs (profiles, session starts and ends) keyed by player_id."""
    codec = catalog()
    async with producer(settings) as prod:
        futures = [await prod.send(settings.topic(topic), key=r["player_id"].encode(), value=codec.encode(name, r))
                   for name, r in records]
        await asyncio.gather(*futures)


class Progress:
    """A progress bar on a terminal (click's), a status line every few seconds otherwise."""

    def __init__(self, out: TextIO | None, count: int, every_s: float = 5.0) -> None:
        import click

        self.out = out
        self.count = count
        self.every_s = every_s
        self.t0 = time.monotonic()
        self.last = self.t0
        self.done = 0
        self.bar = None
        self.tty = bool(out is not None and getattr(out, "isatty", lambda: False)())
        if self.tty:
            self.bar = click.progressbar(
                None if count else itertools.count(),  # no count: a bar without an end
                length=count or None,
                label="bets",
                file=out,
                show_pos=True,
                show_eta=bool(count),
                item_show_func=lambda _: self.rate_text(),
                bar_template="%(label)s  [%(bar)s]  %(info)s" if count else "%(label)s  %(info)s",
            )
            self.bar.__enter__()

    def rate_text(self) -> str:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        return f"{self.done / elapsed:,.0f} bets/s"

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.bar is not None:
            if now - self.last >= 0.2:
                step, self.done, self.last = done - self.done, done, now
                self.bar.update(step)
            return
        self.done = done
        if self.out is not None and now - self.last >= self.every_s:
            self.last = now
            total = f"/{self.count}" if self.count else ""
            print(f"bets: {done}{total}  {self.rate_text()}", file=self.out, flush=True)

    def finish(self, done: int, stats: StreamStats, elapsed: float) -> str:
        if self.bar is not None:
            step, self.done = done - self.done, done
            self.bar.update(step)
            self.bar.__exit__(None, None, None)
        self.done = done
        line = (
            f"bets: {done} in {elapsed:.1f}s = {done / max(elapsed, 1e-9):,.0f} bets/s "
            f"(sessions: {stats.sessions_started} started, {stats.sessions_ended} ended)"
        )
        if self.out is not None:
            print(line, file=self.out, flush=True)
        return line


async def run_loadgen(
    settings: Settings,
    rate: float,
    count: int,
    players: int,
    seed: int | None,
    progress: TextIO | None = sys.stderr,
    *,
    sessions: bool = True,
    profile: str = "flat",
    day_length_s: float = 86400.0,
    start_hour: float | None = None,
    duration_s: float | None = None,
    stream: BetStream | None = None,
) -> int:
    """Produce at ``rate`` bets/s (0 = flat out) until ``count`` bets (0 = no limit) or ``duration_s``.

    ``profile="daily"`` scales the rate by the hour of a simulated UTC day (``rate`` is the
    daily mean) that starts at ``start_hour`` (default: now) and lasts ``day_length_s``.
    Session events go to the ``player-sessions`` topic unless ``sessions=False``.
    Returns the number of bets produced; prints a final rate line to ``progress``.
    """
    profile_multiplier(0, profile)  # refuse an unknown profile before connecting
    await ensure_topics(settings, (BETS, SESSIONS) if sessions else (BETS,))
    stream = stream or BetStream(players=players, seed=seed)
    codec = catalog()
    bets_topic = settings.topic(BETS.name)
    sessions_topic = settings.topic(SESSIONS.name)
    if start_hour is None:
        utc = dt.datetime.now(dt.timezone.utc)
        start_hour = utc.hour + utc.minute / 60 + utc.second / 3600
    bar = Progress(progress, count)
    sent = 0
    t0 = time.monotonic()
    due = t0  # when the next bet is due (paced mode)

    def multiplier(now: float) -> float:
        return profile_multiplier(start_hour + (now - t0) * 24 / day_length_s, profile)

    async def send(prod, events: list[tuple[str, dict]], pending: list) -> int:
        n = 0
        for name, rec in events:
            if name == "BetPlaced":
                pending.append(
                    await prod.send(bets_topic, key=rec["player_id"].encode(), value=codec.encode(name, rec))
                )
                n += 1
            elif sessions:
                pending.append(
                    await prod.send(sessions_topic, key=rec["player_id"].encode(), value=codec.encode(name, rec))
                )
        return n

    async with producer(settings, linger_ms=10) as prod:
        pending: list = []
        try:
            while (count == 0 or sent < count) and (duration_s is None or time.monotonic() - t0 < duration_s):
                now = time.monotonic()
                m = multiplier(now)
                sent += await send(prod, stream.step(multiplier=m), pending)
                if len(pending) >= 2000:
                    await asyncio.gather(*pending)
                    pending.clear()
                if rate > 0:
                    due += 1.0 / (rate * m)
                    ahead = due - time.monotonic()
                    if ahead > 0.002:
                        await asyncio.sleep(ahead)
                    elif ahead < -1.0:
                        due = time.monotonic()  # fell behind (e.g. broker pause): do not burst to catch up
                bar.update(sent)
        finally:
            if sessions:
                await send(prod, stream.close_all(), pending)
            await asyncio.gather(*pending)
    elapsed = time.monotonic() - t0
    bar.finish(sent, stream.stats, elapsed)
    return sent
