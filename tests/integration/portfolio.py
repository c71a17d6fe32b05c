"""A deterministic test portfolio and bet stream, plus the pure-engine oracle for them.

The oracle runs the very same engine functions the worker runs, in-process, over
the same bets: what the distributed system ends with must equal it exactly.
Seeds are fixed (seed_from == seed_to) and ceilings high, so the expected state does
not depend on the order in which partitions interleave.  "Droppy" jackpots have win
targets a few hundred bets above their seed: they drop, pay and reseed many times in
a run, so their balances depend on secret targets, but their lifetime meters (bets,
gross, house cut) still equal the oracle's and their flows must reconcile exactly.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

from jackpot.engine.compiled import CompiledJackpot
from jackpot.engine.contribution import Bet, apply_contribution
from jackpot.engine.lifecycle import activate, new_jackpot_state
from jackpot.engine.money import to_micros
from jackpot.engine.pool import JackpotState
from jackpot.engine.rng import master_seed_source
from jackpot.streams.pipeline import Pipeline

BRANDS = {"brand-royal": "EUR", "brand-nova": "EUR", "brand-north": "SEK", "brand-uk": "GBP"}
GAMES = ["starburst", "book-of-dead", "gates-of-olympus", "sweet-bonanza", "big-bass", "roulette-live"]
LEVEL_NAMES = ["Grand", "Major", "Minor", "Mini"]


def portfolio(n: int = 8, seed: int = 7, droppy: int = 0) -> list[dict]:
    """``n`` jackpots; the first ``droppy`` of them drop every few hundred bets."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        levels_n = rng.randint(1, 4)
        splits = [rng.randint(1, 9) for _ in range(levels_n)]
        total = sum(splits)
        # splits as exact decimals summing to exactly 1: the last one takes the rest
        parts = [Decimal(s * 10_000 // total) / 10_000 for s in splits[:-1]]
        parts.append(Decimal(1) - sum(parts))
        levels = []
        for j in range(levels_n):
            seed_amount = str(rng.choice([100, 1000, 5000]))
            target = {"win_from": "900000000", "win_to": "950000000"}
            if i < droppy:
                seed_amount, target = "100", {"win_from": "120", "win_to": "200"}
            levels.append({
                "level_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"test-level/{seed}/{i}/{j}")),
                "name": LEVEL_NAMES[j],
                "display_order": j + 1,
                "contribution_split": str(parts[j]),
                "seed_from": seed_amount, "seed_to": seed_amount,
                **target, "win_max": "999999999",
                "hidden_increment": {"enabled": j % 2 == 1, "coefficient": "0.1" if j % 2 else "0"},
            })
        currencies = sorted({"EUR", *rng.sample(["SEK", "GBP"], rng.randint(0, 2))})
        docs.append({
            "jackpot_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"test-jackpot/{seed}/{i}/{uuid.uuid4()}")),
            "name": f"Chaos {i}", "internal_name": f"chaos-{i}", "type": "PERSISTENT", "status": "ACTIVE",
            "brands": sorted(rng.sample(list(BRANDS), rng.randint(2, 4))),
            "currencies": currencies,
            "games": [{"game_id": g, "coefficient": rng.choice(["1", "1.2", "0.5", "2"])}
                      for g in rng.sample(GAMES, rng.randint(2, len(GAMES)))],
            "contribution_rate": rng.choice(["0.01", "0.015", "0.02", "0.03"]),
            "house_cut": rng.choice(["0", "0.05", "0.10", "0.15"]),
            "accepted_bet_types": ["real"],
            "compliance_profile": {"jurisdiction_code": "MT", "allowed_distribution_modes": [1]},
            "levels": levels,
        })
    return docs


def bets(n: int, seed: int = 11, players: int = 2000) -> list[dict]:
    rng = random.Random(seed)
    brands = list(BRANDS)
    start = dt.datetime.now(dt.timezone.utc)
    out = []
    for k in range(n):
        p = rng.randrange(players)
        brand = brands[p % len(brands)]
        out.append({
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "timestamp": start + dt.timedelta(milliseconds=k),
            "player_id": f"player-{p:05d}",
            "game_id": rng.choice(GAMES),
            "brand_id": brand,
            "currency": BRANDS[brand],
            "bet_amount": Decimal(rng.choice([10, 20, 50, 100, 200, 500, 1000, 2500])).scaleb(-2),
            "bet_type": "bonus" if rng.random() < 0.03 else "real",
            "session_id": f"s-{p}-{k // 500}",
        })
    return out


class Oracle:
    """Applies bets to every jackpot with the pure engine, as the worker should."""

    def __init__(self, docs: list[dict]) -> None:
        self.compiled: dict[str, CompiledJackpot] = {d["jackpot_id"]: Pipeline.compile(d) for d in docs}
        self.states: dict[str, JackpotState] = {}
        self.applied: dict[str, set[str]] = {jid: set() for jid in self.compiled}
        for jid, cj in self.compiled.items():
            st = new_jackpot_state(cj)
            activate(cj, st, master_seed_source(b"oracle"), actor="system", cause_id="t", now=0)
            self.states[jid] = st

    def apply(self, bet: dict) -> None:
        for jid, cj in self.compiled.items():
            b = Bet(bet_id=bet["event_id"], player_id=bet["player_id"], game_id=bet["game_id"],
                    brand_id=bet["brand_id"], currency=bet["currency"],
                    bet_amount=to_micros(bet["bet_amount"]), bet_type=bet["bet_type"],
                    session_id=bet["session_id"], timestamp=0)
            if apply_contribution(cj, self.states[jid], b).applied:
                self.applied[jid].add(bet["event_id"])
