"""A reference bet producer: realistic Avro ``BetPlaced`` streams for demos, tests, benchmarks.

Players have sessions, a home brand and currency; games are drawn from a mix; bet
sizes follow a log-normal shape clipped to table limits, in whole cents.  The
stream is reproducible given ``seed``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from jackpot.settings import Settings
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import producer
from jackpot.streams.topics import BETS, ensure_topics

BRANDS = {"brand-royal": "EUR", "brand-nova": "EUR", "brand-north": "SEK", "brand-uk": "GBP"}
GAMES = [
    # (game_id, weight): a few popular slots take most of the traffic.
    ("starburst", 30), ("book-of-dead", 25), ("gates-of-olympus", 20), ("sweet-bonanza", 12),
    ("big-bass", 8), ("blackjack-live", 3), ("roulette-live", 2),
]
BET_ID_NAMESPACE = uuid.UUID("6f1b0d9e-4c55-4d4b-9a35-0d7e3b1c2a10")


@dataclass
class Player:
    player_id: str
    brand_id: str
    currency: str
    session_id: str
    spins_left: int


class BetStream:
    """Deterministic given the seed: the same seed gives the same bets and ids."""

    def __init__(self, players: int = 1000, seed: int | None = None, bonus_share: float = 0.05) -> None:
        self.rng = random.Random(seed)
        self.seed = seed if seed is not None else self.rng.randrange(1 << 30)
        brands = list(BRANDS)
        self.players = [
            Player(f"player-{i:06d}", b := brands[i % len(brands)], BRANDS[b], "", 0)
            for i in range(players)
        ]
        self.games = [g for g, _ in GAMES]
        self.weights = [w for _, w in GAMES]
        self.bonus_share = bonus_share
        self.n = 0

    def _session(self, p: Player) -> None:
        if p.spins_left <= 0:
            p.session_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
            p.spins_left = int(self.rng.expovariate(1 / 80)) + 1
        p.spins_left -= 1

    def bet_amount(self) -> Decimal:
        cents = int(round(math.exp(self.rng.gauss(math.log(100), 0.9))))  # median 1.00
        return Decimal(max(10, min(cents, 50_000))).scaleb(-2)

    def next(self, now: dt.datetime | None = None) -> dict:
        p = self.players[int(self.rng.paretovariate(1.2)) % len(self.players)]
        self._session(p)
        self.n += 1
        return {
            "event_id": str(uuid.uuid5(BET_ID_NAMESPACE, f"{self.seed}:{self.n}")),
            "timestamp": now or dt.datetime.now(dt.timezone.utc),
            "player_id": p.player_id,
            "game_id": self.rng.choices(self.games, self.weights)[0],
            "brand_id": p.brand_id,
            "currency": p.currency,
            "bet_amount": self.bet_amount(),
            "bet_type": "bonus" if self.rng.random() < self.bonus_share else "real",
            "session_id": p.session_id,
        }


async def produce_bets(settings: Settings, bets: list[dict]) -> None:
    """Produce the given BetPlaced records, keyed by player_id, and wait for the acks."""
    codec = catalog()
    async with producer(settings) as prod:
        futures = [
            await prod.send(settings.topic(BETS.name), key=b["player_id"].encode(),
                            value=codec.encode("BetPlaced", b))
            for b in bets
        ]
        await asyncio.gather(*futures)


async def run_loadgen(settings: Settings, rate: float, count: int, players: int, seed: int | None,
                      progress=sys.stderr) -> int:
    """Produce at ``rate`` bets/s (0 = flat out) until ``count`` (0 = forever)."""
    await ensure_topics(settings)
    stream = BetStream(players=players, seed=seed)
    codec = catalog()
    topic = settings.topic(BETS.name)
    sent = 0
    t0 = time.monotonic()
    last_report = t0
    async with producer(settings) as prod:
        pending = []
        try:
            while count == 0 or sent < count:
                bet = stream.next()
                pending.append(await prod.send(topic, key=bet["player_id"].encode(),
                                               value=codec.encode("BetPlaced", bet)))
                sent += 1
                if len(pending) >= 1000:
                    await asyncio.gather(*pending)
                    pending.clear()
                if rate > 0:
                    ahead = sent / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                now = time.monotonic()
                if now - last_report >= 1.0:
                    last_report = now
                    total = f"/{count}" if count else ""
                    print(f"\rbets: {sent}{total}  {sent / (now - t0):,.0f}/s", end="", file=progress, flush=True)
        finally:
            await asyncio.gather(*pending)
    elapsed = time.monotonic() - t0
    print(f"\rbets: {sent} in {elapsed:.1f}s = {sent / max(elapsed, 1e-9):,.0f} bets/s", file=progress)
    return sent
