"""Seeds: random within range per cycle, hidden carry-over, pre-seed, integer_wins_only."""

import pytest

from jackpot.engine import (
    AdjustmentRejected,
    Winner,
    apply_contribution,
    begin_drop,
    compile_jackpot,
    new_jackpot_state,
    pre_seed,
    reconcile,
    settle_drop,
)
from jackpot.engine.lifecycle import activate
from jackpot.engine.rng import master_seed_source

from .helpers import MASTER, bet, classic_levels, level, lid, make_jackpot, setup

UNIT = 1_000_000
SOLO = lid("Solo")
W = Winner("p-win", "g1", "brand-1", "bet-win")
seeds = master_seed_source(MASTER)


def drop(cj, st, level_id, currency="EUR", n=0, final=False):
    t = begin_drop(cj, st, level_id, currency, cause_id=f"drop-{n}", now=10_000 + n)
    nxt = None if final else seeds(level_id, currency, st.pool(level_id, currency).cycle + 1)
    return t, settle_drop(cj, st, level_id, currency, W, next_seed=nxt, cause_id=f"settle-{n}", now=10_001 + n, final=final)


def test_seed_is_random_within_range_each_cycle():
    cj, st = setup()
    grand = st.pools["EUR"][lid("Grand")]
    seen = set()
    for n in range(30):
        assert 5_000 * UNIT <= grand.seed_amount <= 8_000 * UNIT
        assert grand.visible == grand.seed_amount
        assert 30_000 * UNIT <= grand.win_target <= 50_000 * UNIT
        seen.add(grand.seed_amount)
        drop(cj, st, lid("Grand"), n=n)
    assert len(seen) > 25  # a new draw every cycle
    assert grand.cycle == 31
    reconcile(st)


def test_equal_range_means_fixed_seed():
    cj, st = setup(levels=[level("Solo", 1, "1", seed_from="250", seed_to="250")])
    pool = st.pools["EUR"][SOLO]
    for n in range(5):
        assert pool.seed_amount == 250 * UNIT
        drop(cj, st, SOLO, n=n)


def test_hidden_increment_carries_into_the_next_seed():
    lv = [level("Solo", 1, "1", seed_from="100", seed_to="100", win_from="1000", win_to="2000", win_max="2500",
                hidden_increment={"enabled": True, "coefficient": "0.2"}, max_contribution="1000")]
    cj, st = setup(levels=lv, contribution_rate="1", house_cut="0")
    pool = st.pools["EUR"][SOLO]
    for i in range(5):
        apply_contribution(cj, st, bet(100 * UNIT, bet_id=f"h{i}"))
    assert pool.hidden == 100 * UNIT and pool.visible == 500 * UNIT  # 500 net: 20% hidden
    assert pool.current_amount == 600 * UNIT
    t, s = drop(cj, st, SOLO)
    assert t.win_amount == 500 * UNIT  # the displayed amount is what is paid
    assert pool.seed_draw == 100 * UNIT and pool.carry_in == 100 * UNIT
    assert pool.seed_amount == pool.visible == 200 * UNIT  # "restarts higher than usual"
    assert pool.hidden == 0 and pool.carry == 0
    assert pool.meters.carried == 100 * UNIT
    reconcile(st)


def test_carry_is_capped_below_win_from_and_the_rest_waits():
    lv = [level("Solo", 1, "1", seed_from="100", seed_to="100", win_from="150", win_to="200", win_max="2500",
                hidden_increment={"enabled": True, "coefficient": "0.5"}, max_contribution="1000")]
    cj, st = setup(levels=lv, contribution_rate="1", house_cut="0")
    pool = st.pools["EUR"][SOLO]
    apply_contribution(cj, st, bet(200 * UNIT))  # 100 visible, 100 hidden
    drop(cj, st, SOLO)
    assert pool.carry_in == 50 * UNIT and pool.seed_amount == 150 * UNIT  # up to win_from
    assert pool.carry == 50 * UNIT  # reserve kept for later cycles
    drop(cj, st, SOLO, n=1)  # pays 150; next seed 100 + 50 carried
    assert pool.carry_in == 50 * UNIT and pool.carry == 0
    reconcile(st)


def test_integer_wins_only():
    lv = [level("Solo", 1, "1", seed_from="10.5", seed_to="20.5", win_from="50", win_to="60", win_max="100",
                integer_wins_only=True, max_contribution="100")]
    cj, st = setup(levels=lv, contribution_rate="1", house_cut="0")
    pool = st.pools["EUR"][SOLO]
    assert pool.seed_amount % UNIT == 0 and 11 * UNIT <= pool.seed_amount <= 20 * UNIT
    apply_contribution(cj, st, bet(2_750_000))  # + 2.75
    shown = pool.visible
    t, s = drop(cj, st, SOLO)
    assert t.win_amount == shown - 750_000 and t.win_amount % UNIT == 0
    assert s.hit.amount == t.win_amount
    # the 0.75 fraction is not lost: it waits in the reserve (whole units only go into seeds)
    assert pool.seed_amount % UNIT == 0
    assert pool.carry == 750_000 and pool.carry_in == 0
    reconcile(st)


def test_pre_seed_is_tracked_separately_and_raises_the_floor():
    cj, st = setup()
    grand = st.pools["EUR"][lid("Grand")]
    seed = grand.seed_amount
    ev = pre_seed(cj, st, lid("Grand"), "EUR", 1_000 * UNIT, actor="cfo", cause_id="ps1", now=5)
    assert grand.seed_amount == grand.visible == seed + 1_000 * UNIT
    assert grand.meters.pre_seeded == grand.cycle_pre_seed == 1_000 * UNIT
    assert grand.meters.seeded == seed
    assert ev[0].payload["reason"] == "PRE_SEED" and ev[0].payload["actor"] == "cfo"
    reconcile(st)
    apply_contribution(cj, st, bet())
    with pytest.raises(AdjustmentRejected, match="only allowed before the cycle's first contribution"):
        pre_seed(cj, st, lid("Grand"), "EUR", UNIT, actor="cfo", cause_id="ps2", now=6)


def test_pre_seed_may_not_reach_the_win_range():
    cj, st = setup()
    grand = st.pools["EUR"][lid("Grand")]
    with pytest.raises(AdjustmentRejected, match="above win_from 30000000000 micros"):
        pre_seed(cj, st, lid("Grand"), "EUR", 30_000 * UNIT - grand.seed_amount + 1, actor="cfo", cause_id="x", now=5)
    with pytest.raises(AdjustmentRejected, match="needs an actor"):
        pre_seed(cj, st, lid("Grand"), "EUR", UNIT, actor="", cause_id="x", now=5)


def test_pre_seed_at_activation():
    cj = compile_jackpot(make_jackpot(levels=classic_levels()))
    st = new_jackpot_state(cj)
    with pytest.raises(AdjustmentRejected, match="activate the jackpot first"):
        pre_seed(cj, st, lid("Grand"), "EUR", UNIT, actor="cfo", cause_id="x", now=5)
    activate(cj, st, seeds, actor="op", cause_id="act", now=1, pre_seeds={(lid("Grand"), "USD"): 500 * UNIT})
    usd = st.pools["USD"][lid("Grand")]
    assert usd.meters.pre_seeded == 500 * UNIT
    assert usd.seed_amount == usd.seed_draw + 500 * UNIT
    assert st.pools["EUR"][lid("Grand")].meters.pre_seeded == 0
