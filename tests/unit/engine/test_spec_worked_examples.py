"""The specification's worked examples, with its own numbers, through the real engine and simulation.

Hidden increment (Seed Mechanics), the Mode 2 player weight (Trigger, Drop & Anti-Prediction),
the chain-reaction cost per drop / day / month (Budget Model, Simulation Engine) and the
configuration warnings of the simulation (Configuration Warnings from Simulation).
Money is exact (micros, Decimal, Fraction); only the simulation summary is float by design.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from jackpot.engine import BetContext, Winner, apply_contribution, begin_drop, process_bet, settle_drop
from jackpot.engine.budget import expected_cycle
from jackpot.engine.catalog import MODE2_WEIGHTS
from jackpot.engine.eligibility import snapshot
from jackpot.engine.rng import master_seed_source
from jackpot.engine.selection import WEIGHT_SCALE, behaviour_weights, candidate, mode_weights
from jackpot.simulation.core import CYCLE_FIELDS, HOUR_MS, SIM_EPOCH_MS, LevelPlan, LevelRun
from jackpot.simulation.summary import level_summary, warnings_for

from .helpers import MASTER, bet, level, lid, make_jackpot, setup

UNIT = 1_000_000
GRAND = lid("Grand")


# --------------------------------------------------------------------------- hidden increment


def test_hidden_increment_grand_restarts_at_8500_after_a_31000_drop():
    """"It just dropped at EUR 31,000, so it reseeded at EUR 5,000" ... with the hidden increment
    "after a large drop the Grand might restart at EUR 8,500 instead of EUR 5,000"."""
    # The engine's hidden increment (config HiddenIncrement, contribution step 6): the coefficient
    # h is the share of each net contribution that goes to the invisible reserve instead of the
    # displayed amount; at the reseed the reserve is added to the new seed (seeding.start_cycle).
    # Fixed seed 5,000 (seed_from = seed_to). For the displayed prize to be 31,000 and the
    # reserve 3,500 the cycle's net contributions N must split as
    #     visible growth  (1 - h) x N = 31,000 - 5,000 = 26,000
    #     hidden reserve       h  x N =  3,500
    # so N = 29,500 and h = 3,500 / 29,500 = 7/59 = 0.1186440677966...
    # (7/59 of the contributions is 7/62 = 11.29% of the EUR 31,000 win.)
    # The engine floors each bet's hidden part to the micro: 1,000 bets of EUR 2,950 at a 1% rate
    # each net EUR 29.50, and h = 0.11864407 (7/59 rounded up in the 8th place) gives
    #     floor(29,500,000 x 0.11864407) = floor(3,500,000.065) = 3,500,000 micros = EUR 3.50 hidden
    #     29.50 - 3.50 = EUR 26.00 visible
    # so 1,000 bets make exactly 26,000 visible + 3,500 hidden.
    grand = level("Grand", 1, "1", seed_from="5000", seed_to="5000", win_from="30000", win_to="50000",
                  win_max="60000", hidden_increment={"enabled": True, "coefficient": "0.11864407"})
    cj, st = setup(levels=[grand], contribution_rate="0.01", house_cut="0")
    pool = st.pools["EUR"][GRAND]
    assert pool.seed_amount == pool.visible == 5_000 * UNIT

    for i in range(1_000):
        r = apply_contribution(cj, st, bet(2_950 * UNIT, bet_id=f"hi-{i}", ts=2_000 + i))
        assert r.outcome == "applied" and r.net == 29_500_000
    assert pool.visible == 31_000 * UNIT  # what the ticker shows and the drop pays
    assert pool.hidden == 3_500 * UNIT  # invisible; part of the trigger amount (34,500)

    ticket = begin_drop(cj, st, GRAND, "EUR", cause_id="drop-31000", now=10_000)
    assert ticket.win_amount == 31_000 * UNIT  # "It just dropped at EUR 31,000"
    nxt = master_seed_source(MASTER)(GRAND, "EUR", pool.cycle + 1)
    s = settle_drop(cj, st, GRAND, "EUR", Winner("p-win", "g1", "brand-1", "bet-win"), next_seed=nxt,
                    cause_id="settle-31000", now=10_001)
    assert s.win_amount == 31_000 * UNIT
    assert pool.cycle == 2
    assert pool.seed_draw == 5_000 * UNIT  # the seed it would have restarted at without the increment
    assert pool.carry_in == 3_500 * UNIT
    assert pool.seed_amount == pool.visible == 8_500 * UNIT  # "restart at EUR 8,500 instead of EUR 5,000"
    assert pool.hidden == 0 and pool.carry == 0


# --------------------------------------------------------------------------- Mode 2 weight


def test_mode2_player_weight_formula():
    """"player_weight = 1.0 + (bet_factor x 0.3) + (contrib_factor x 0.2) + (session x 0.1) +
    (bets x 0.15) + (loyalty x 0.1) + (recency x 0.05)"; "Each factor = player_value /
    average_value_across_pool"."""
    # The catalog's Mode 2 coefficients are the spec's defaults.
    assert MODE2_WEIGHTS == {"bet_size": "0.3", "contribution_volume": "0.2", "session_presence": "0.1",
                             "bet_count": "0.15", "loyalty_tier": "0.1", "recency": "0.05"}
    solo = level("Solo", 1, "1", seed_from="100", seed_to="100", win_from="100000", win_to="200000",
                 win_max="300000")
    cj, st = setup(levels=[solo], contribution_rate="0.01", house_cut="0", distribution_mode=2,
                   weight_factors=MODE2_WEIGHTS, selection={"method": "weighted_random"})
    solo_id = lid("Solo")
    now = 1_000_000_000
    # Two active players (active window 60 s), the pool the averages are taken over:
    #   A: EUR 10 at now-30s, -20s, -10s; session 2 h; loyalty tier 3
    #   B: EUR 7.50 at now-55s, EUR 2.50 at now-50s; session 30 min; loyalty tier 1
    plays = [("A", 10, -30_000), ("B", Decimal("7.50"), -55_000), ("A", 10, -20_000),
             ("B", Decimal("2.50"), -50_000), ("A", 10, -10_000)]
    session = {"A": now - 2 * HOUR_MS, "B": now - HOUR_MS // 2}
    tier = {"A": 3, "B": 1}
    spins = {"A": 0, "B": 0}
    for i, (p, stake, dt) in enumerate(sorted(plays, key=lambda x: x[2])):
        spins[p] += 1
        b = bet(int(Decimal(stake) * UNIT), player=p, bet_id=f"w-{i}", ts=now + dt)
        process_bet(cj, st, BetContext(b, loyalty_tier=tier[p], session_started_at=session[p], session_spins=spins[p]))

    cl = cj.level(solo_id)
    pool = st.pools["EUR"][solo_id]
    snap = snapshot(cj, st, cl, pool, now, 0)
    assert [pid for pid, _ in snap] == ["A", "B"]
    cands = [candidate(cj, cl, pool, pid, rec, now) for pid, rec in snap]

    # Factors (player value / average of the two):
    #   bet size (last bet)     A 10        B 2.50      avg 6.25     -> A 8/5  B 2/5
    #   contribution (1%)       A 0.30      B 0.10      avg 0.20     -> A 3/2  B 1/2
    #   session presence        A 120 min   B 30 min    avg 75 min   -> A 8/5  B 2/5
    #   bet count               A 3         B 2         avg 2.5      -> A 6/5  B 4/5
    #   loyalty tier            A 3         B 1         avg 2        -> A 3/2  B 1/2
    #   recency (60 s - since)  A 50 s      B 10 s      avg 30 s     -> A 5/3  B 1/3
    # A = 1 + 8/5*0.3 + 3/2*0.2 + 8/5*0.1 + 6/5*0.15 + 3/2*0.1 + 5/3*0.05
    #   = 1 + 0.48 + 0.30 + 0.16 + 0.18 + 0.15 + 1/12 = 2.27 + 1/12 = 353/150 (2.35333...)
    # B = 1 + 2/5*0.3 + 1/2*0.2 + 2/5*0.1 + 4/5*0.15 + 1/2*0.1 + 1/3*0.05
    #   = 1 + 0.12 + 0.10 + 0.04 + 0.12 + 0.05 + 1/60 = 1.43 + 1/60 = 217/150 (1.44666...)
    # (check: the weights sum to n x (1 + 0.9) = 3.8 = 570/150)
    values = {c.player_id: c.values for c in cands}
    assert values["A"] == (10 * UNIT, 300_000, 2 * HOUR_MS, 3, 3, 50_000)
    assert values["B"] == (2_500_000, 100_000, HOUR_MS // 2, 2, 1, 10_000)
    w = dict(zip([c.player_id for c in cands], behaviour_weights(cj, cands)))
    f = Fraction
    hand_a = 1 + f(8, 5) * f("0.3") + f(3, 2) * f("0.2") + f(8, 5) * f("0.1") + f(6, 5) * f("0.15") \
        + f(3, 2) * f("0.1") + f(5, 3) * f("0.05")
    hand_b = 1 + f(2, 5) * f("0.3") + f(1, 2) * f("0.2") + f(2, 5) * f("0.1") + f(4, 5) * f("0.15") \
        + f(1, 2) * f("0.1") + f(1, 3) * f("0.05")
    assert hand_a == f(353, 150) and hand_b == f(217, 150)
    assert w == {"A": f(353, 150), "B": f(217, 150)}
    # The integer weights of the draw (logged for audit): floored to 1/WEIGHT_SCALE, coprime here.
    assert WEIGHT_SCALE == 10**9
    assert mode_weights(cj, cands, "weighted_random") == [2_353_333_333, 1_446_666_666]


# --------------------------------------------------------------------------- chain reaction cost


def _chain_level(prizes: list[str]) -> dict:
    # seed 4,000-8,000 (avg 6,000), win 30,000-54,000 (avg 42,000): growth 36,000 per cycle
    return level("Grand", 1, "1", seed_from="4000", seed_to="8000", win_from="30000", win_to="54000",
                 win_max="60000", chain_reaction={"enabled": True, "prize_count": len(prizes),
                                                  "prize_amounts": prizes, "distribution_mode": "random"})


def _engine_chain_figures(prizes: list[str]) -> tuple[Decimal, Decimal, Decimal]:
    """(per drop, per day, per month) of the chain reaction from the engine's budget model, with
    the cycle duration it derives from a gross velocity of EUR 5,000/h.

    house cut 10%: contributions needed = 36,000 / 0.9 = 40,000 gross; 40,000 / 5,000 = 8 h per
    cycle, i.e. 3 drops a day and 720 / 8 = 90 drops in the budget model's 720 h month.
    expected_cycle reports the chain cost per cycle (= per drop) and folds it into the monthly net
    (net_per_cycle x 720 h / cycle_hours); it has no per-day figure, so per day is taken from its
    own cycle duration, and per month as what the chain removes from the monthly net.
    """
    j = make_jackpot(levels=[_chain_level(prizes)], house_cut="0.10")
    lv = j.levels[0]
    v = Decimal(5000)
    ex = expected_cycle(lv, "EUR", j.house_cut, gross_velocity_per_hour=v)
    no_chain = expected_cycle(lv.model_copy(update={"chain_reaction": lv.chain_reaction.model_copy(
        update={"enabled": False})}), "EUR", j.house_cut, gross_velocity_per_hour=v)
    assert ex.contributions_needed == Decimal(40000) and ex.house_cut_per_cycle == Decimal(4000)
    assert ex.cycle_hours == Decimal(8)  # 3 drops a day
    # the operator's net without chain prizes: house cut 4,000 less the 6,000 seed draw, 90 times a month
    assert no_chain.chain_cost == 0 and no_chain.monthly_net == (Decimal(4000) - Decimal(6000)) * 90
    per_day = ex.chain_cost * 24 / ex.cycle_hours
    per_month = no_chain.monthly_net - ex.monthly_net
    return ex.chain_cost, per_day, per_month


@pytest.mark.parametrize(
    "prizes, per_drop, per_day, per_month",
    [
        # 1,000 + 500 + 250 = 1,750 a drop; x 3 drops = 5,250 a day; x 90 drops = 157,500 a month
        (["1000", "500", "250"], 1750, 5250, 157500),
        # the spec's graduated EUR 500/250/100 over 8 recipients ("EUR 500, EUR 250, EUR 100,
        # EUR 100..."): 500 + 250 + 6 x 100 = 1,350 a drop; x 3 = 4,050 a day; x 90 = 121,500 a month
        (["500", "250", "100", "100", "100", "100", "100", "100"], 1350, 4050, 121500),
    ],
)
def test_chain_reaction_cost_per_drop_day_month(prizes, per_drop, per_day, per_month):
    """"Chain reaction prizes ... per drop ... If the jackpot drops 3 times/day, that's ... /day in
    chain reaction costs alone" (Budget Model: "Monthly Net: net_per_cycle x (720h /
    cycle_duration)"; the chain cost is part of the net per cycle)."""
    d, day, month = _engine_chain_figures(prizes)
    assert (d, day, month) == (Decimal(per_drop), Decimal(per_day), Decimal(per_month))
    assert month == day * 30  # the 720 h month is 30 days


@pytest.mark.xfail(strict=True, reason=(
    "spec arithmetic: 'EUR 500/EUR 250/EUR 100 x 8 recipients per drop = EUR 1,600/drop' - graduated over "
    "8 slots (EUR 500, EUR 250, then EUR 100 for each further slot) the engine's budget model gives "
    "500 + 250 + 6 x 100 = EUR 1,350/drop, EUR 4,050/day at 3 drops/day and EUR 121,500 a month, not "
    "EUR 1,600 / 4,800 / 144,000 (the spec's x3 and x30 steps are consistent; its per-drop sum is not)"))
def test_chain_reaction_cost_spec_figures_1600_4800_144000():
    """"Chain reaction prizes of EUR 500/EUR 250/EUR 100 x 8 recipients per drop = EUR 1,600/drop. If the
    jackpot drops 3 times/day, that's EUR 4,800/day ... before EUR 144,000 has been distributed in
    month one.\""""
    got = _engine_chain_figures(["500", "250", "100", "100", "100", "100", "100", "100"])
    assert got == (Decimal(1600), Decimal(4800), Decimal(144000))


# --------------------------------------------------------------------------- simulation warnings


_C = {f: i for i, f in enumerate(CYCLE_FIELDS)}


def _run(durations_ms: list[int], at_max: int) -> LevelRun:
    """A completed simulation run of back-to-back cycles with these durations, the first
    ``at_max`` of which reached win_max."""
    plan = LevelPlan(GRAND, "Grand", "EUR", growth=36_000.0, net_per_bet=0.01, bets_per_cycle=3.6e6, scale=1,
                     expected_hours=8.0)
    run = LevelRun(plan, sim_start=SIM_EPOCH_MS, win_from=30_000 * UNIT, win_to=50_000 * UNIT, win_max=60_000 * UNIT)
    t = SIM_EPOCH_MS
    for i, d in enumerate(durations_ms):
        row = [0] * len(CYCLE_FIELDS)
        row[_C["cycle"]] = i + 1
        row[_C["started_at"]] = t
        row[_C["drop_at"]] = row[_C["settled_at"]] = t + d
        row[_C["win_amount"]] = 40_000 * UNIT
        row[_C["at_max"]] = i < at_max
        row[_C["kind"]] = "drop"
        run.cycles.append(row)
        t += d
    run.sim_end = t
    return run


def _names(s: dict) -> set[str]:
    return _warned(s["warnings"])


def _warned(warnings: list[dict]) -> set[str]:
    return {w["warning"] for w in warnings}


EIGHT_H = 8 * HOUR_MS


@pytest.mark.parametrize("hits, fires", [(99, False), (100, False), (101, True)])
def test_simulation_warning_win_max_hit_rate(hits, fires):
    """"Win Max hit rate too high | > 10% of cycles | Relax min_players, widen time window, or
    reduce win_max"."""
    s = level_summary(_run([EIGHT_H] * 1000, at_max=hits))  # 9.9%, 10.0%, 10.1% of 1,000 cycles
    assert s["win_max_hit_rate"] == hits / 1000
    assert ("Win Max hit rate too high" in _names(s)) is fires
    assert _names(s) <= {"Win Max hit rate too high"}
    # the same rule from the summary figures alone, just either side of 10%
    assert "Win Max hit rate too high" in _warned(warnings_for({**s, "win_max_hit_rate": 0.1001}))
    assert "Win Max hit rate too high" not in _warned(warnings_for({**s, "win_max_hit_rate": 0.10}))


@pytest.mark.parametrize("ms, fires", [(2 * HOUR_MS + 1, False), (2 * HOUR_MS, False), (2 * HOUR_MS - 1, True)])
def test_simulation_warning_cycle_too_short(ms, fires):
    """"Cycle too short | Avg < 2 hours | Reduce contribution rate or raise win_from"."""
    s = level_summary(_run([ms] * 10, at_max=0))
    assert s["cycle_hours"]["mean"] == ms / HOUR_MS
    assert ("Cycle too short" in _names(s)) is fires
    assert _names(s) <= {"Cycle too short"}


@pytest.mark.parametrize("ms, fires", [(720 * HOUR_MS - 1, False), (720 * HOUR_MS, False), (720 * HOUR_MS + 1, True)])
def test_simulation_warning_cycle_too_long(ms, fires):
    """"Cycle too long | Avg > 30 days | Increase contribution rate, lower win_to, or relax conditions"."""
    s = level_summary(_run([ms] * 3, at_max=0))
    assert s["cycle_hours"]["mean"] == ms / HOUR_MS
    assert ("Cycle too long" in _names(s)) is fires
    assert _names(s) <= {"Cycle too long"}
