"""A scripted jackpot life, run through the pure engine, with its ledger records and events.

Used by the unit tests of the sinks and by the integration tests that write it to PostgreSQL
(replays, reports). Everything is deterministic: fixed master seed, fixed clock, ids derived
from causes. The figures are simple enough to compute by hand (see ``hand_pnl``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from jackpot.engine import compile_jackpot, new_jackpot_state
from jackpot.engine.events import WALLET_CREDIT_COMMAND, event_id
from jackpot.engine.lifecycle import activate
from jackpot.engine.money import from_micros
from jackpot.engine.rng import master_seed_source

from ..engine.flow import UNIT, Driver, solo_level
from ..engine.helpers import MASTER, lid, make_jackpot

BASE_MS = 1_790_000_000_000  # 2026-09-21: a recent month, so partitions look like production's
SOLO = lid("Solo")
CHAIN = (5, 3, 1)  # chain-reaction prizes, units


def _dt(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)


@dataclass
class Scenario:
    jackpot_id: str
    driver: Driver
    events: list = field(default_factory=list)  # EngineEvent dicts, in order
    ledger: list = field(default_factory=list)  # ContributionApplied records
    bets_gross: int = 0  # micros
    win_bets: int = 0


def _ledger_record(jackpot_id: str, bet_n: int, player: str, ms: int, amount: int, r) -> dict:
    bet_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"scenario/{jackpot_id}/bet/{bet_n}"))
    return {
        "event_id": event_id("ContributionApplied", jackpot_id, None, "EUR", bet_id),
        "timestamp": _dt(ms), "jackpot_id": jackpot_id, "bet_id": bet_id, "player_id": player,
        "game_id": "g1", "brand_id": "brand-1", "currency": "EUR",
        "bet_amount": from_micros(amount), "gross_amount": from_micros(r.gross),
        "house_cut_amount": from_micros(r.house_cut), "bet_timestamp": _dt(ms),
        "levels": [{"level_id": lc.level_id, "net_amount": from_micros(lc.net),
                    "visible_amount": from_micros(lc.visible), "hidden_amount": from_micros(lc.hidden),
                    "overflow_amount": from_micros(lc.overflow), "pending_amount": from_micros(lc.pending),
                    "transfer_in_amount": from_micros(lc.transfer_in),
                    "overflow_reserve_amount": from_micros(lc.overflow_reserve),
                    "overflow_revenue_amount": from_micros(lc.overflow_revenue)} for lc in r.levels],
    }


def run(jackpot_id: str | None = None) -> Scenario:
    """Pre-seed 2, five 0.01 bets, +1 funding, -0.5 correction, bets of 1 until the drop (winner w,
    chain prizes 5/3/1 to three of the five others), every credit confirmed, reseed."""
    jackpot_id = jackpot_id or str(uuid.uuid4())
    lvl = solo_level(chain_reaction={"enabled": True, "prize_count": 3, "prize_amounts": [str(a) for a in CHAIN],
                                     "distribution_mode": "random"})
    cj = compile_jackpot(make_jackpot(jackpot_id=jackpot_id, levels=[lvl], contribution_rate="1", house_cut="0.1",
                                      currencies=["EUR"]))
    st = new_jackpot_state(cj)
    sc = Scenario(jackpot_id, Driver(cj, st, now=BASE_MS))
    sc.events += [e.to_dict() for e in activate(cj, st, master_seed_source(MASTER), actor="op-1",
                                                  cause_id="activate", now=BASE_MS)]
    d = sc.driver
    mark = [0, 0]

    def take() -> None:
        sc.events += [e.to_dict() for e in d.events[mark[0]:]]
        sc.events += [c.to_dict() for c in d.commands[mark[1]:] if c.event_type != WALLET_CREDIT_COMMAND]
        mark[:] = [len(d.events), len(d.commands)]

    def bet(amount_units: float, player: str):
        micros = int(round(amount_units * UNIT))
        r, out = d.bet(micros if micros > 10_000 else amount_units, player)
        sc.ledger.append(_ledger_record(jackpot_id, d.n, player, d.now, micros, r))
        sc.bets_gross += r.gross
        take()
        return out

    d.command("manual_adjust", level_id=SOLO, currency="EUR", amount=2 * UNIT, reason="launch boost",
              adjustment_reason="PRE_SEED")
    take()
    for p in ("a", "b", "c", "d", "e"):
        bet(0.01, p)
    d.command("manual_adjust", level_id=SOLO, currency="EUR", amount=UNIT, reason="goodwill")
    d.command("manual_adjust", level_id=SOLO, currency="EUR", amount=-UNIT // 2, reason="meter fix",
              adjustment_reason="MALFUNCTION_CORRECTION")
    take()
    for _ in range(200):
        out = bet(1, "w")
        sc.win_bets += 1
        if any(e.outcome == "drop" for e in out.evaluations):
            break
    else:
        raise AssertionError("no drop")
    done: set[str] = set()
    while True:
        todo = [c for c in d.credits() if c.payload["idempotency_key"] not in done]
        if not todo:
            break
        for c in todo:
            done.add(c.payload["idempotency_key"])
            d.wallet(c)
        take()
    take()
    return sc


def hand_pnl(sc: Scenario) -> dict[str, Decimal]:
    """The P&L worked out by hand from the script (currency units)."""
    gross = Decimal(5) * Decimal("0.01") + Decimal(sc.win_bets)  # rate 1: a bet's whole amount contributes
    house = gross * Decimal("0.1")
    pre_seed, seeds = Decimal(2), Decimal(2)  # seed 1 for cycle 1 and for cycle 2
    adj_in, adj_out = Decimal(1), Decimal("0.5")
    chain = Decimal(sum(CHAIN))
    prize_main = 1 + pre_seed + (gross - house) + adj_in - adj_out  # the whole pool at the drop
    return {
        "gross_contributions": gross, "house_cut": house, "net_pool_contributions": gross - house,
        "pre_seed": pre_seed, "seeds": seeds, "prizes_main": prize_main, "prizes_chain": chain,
        "adjustments_in": adj_in, "adjustments_out": adj_out, "adjustments_net": adj_in - adj_out,
        "net_position": house + adj_out - adj_in - seeds - pre_seed - chain,
    }


def run_overflow(jackpot_id: str | None = None, mode: str = "revenue") -> Scenario:
    """A level held in NO_WIN mode fed past its Win Max of 20 by bets of 3 (rate 1, house cut 10%):
    its overflow goes to ``mode`` (revenue or buffer). Seed 1; 2.7 net per bet."""
    jackpot_id = jackpot_id or str(uuid.uuid4())
    cj = compile_jackpot(make_jackpot(jackpot_id=jackpot_id, levels=[solo_level(overflow={"mode": mode})],
                                      contribution_rate="1", house_cut="0.1", currencies=["EUR"]))
    st = new_jackpot_state(cj)
    sc = Scenario(jackpot_id, Driver(cj, st, now=BASE_MS))
    sc.events += [e.to_dict() for e in activate(cj, st, master_seed_source(MASTER), actor="op-1",
                                                  cause_id="activate", now=BASE_MS)]
    d = sc.driver
    d.command("no_win_on", level_id=SOLO, reason="grow past the limit")
    sc.events += [e.to_dict() for e in d.events]
    mark = len(d.events)
    for i in range(10):
        r, _ = d.bet(3, f"p{i}")
        sc.ledger.append(_ledger_record(jackpot_id, d.n, f"p{i}", d.now, 3 * UNIT, r))
        sc.bets_gross += r.gross
    sc.events += [e.to_dict() for e in d.events[mark:]]
    return sc
