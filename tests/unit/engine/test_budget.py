"""Per-cycle counters and the budget model read straight from the pool meters."""

from decimal import Decimal

from jackpot.engine import Winner, adjust, apply_contribution, begin_drop, pre_seed, settle_drop
from jackpot.engine.budget import budget_alerts, budget_report, cycle_counters, cycle_overrun, expected_cycle
from jackpot.engine.catalog import day_one_jackpot
from jackpot.engine.rng import master_seed_source

from .helpers import MASTER, bet, lid, setup

UNIT = 1_000_000
GRAND = lid("Grand")


def test_cycle_counters_and_lifetime_totals():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    pre_seed(cj, st, GRAND, "EUR", 100 * UNIT, actor="cfo", cause_id="ps", now=1)
    for i in range(3):
        apply_contribution(cj, st, bet(2_000_000, game="g12", bet_id=f"c{i}"))
    c = cycle_counters(grand)
    assert (c.cycle_number, c.cycle_gross, c.cycle_house_cut, c.cycle_contributions) == (1, 43_200, 4_320, 38_880)
    assert (c.cycle_bets, c.cycle_wagers, c.cycle_pre_seed) == (3, 6_000_000, 100 * UNIT)
    assert (c.total_gross, c.total_house_cut, c.total_contributions) == (43_200, 4_320, 38_880)
    assert c.seed_amount == grand.seed_draw + 100 * UNIT
    begin_drop(cj, st, GRAND, "EUR", cause_id="d", now=2)
    settle_drop(cj, st, GRAND, "EUR", Winner("p", "g1", "b", "t"), next_seed=master_seed_source(MASTER)(GRAND, "EUR", 2),
                cause_id="s", now=3)
    c = cycle_counters(grand)
    assert (c.cycle_number, c.cycle_gross, c.cycle_contributions, c.cycle_pre_seed, c.cycle_bets) == (2, 0, 0, 0, 0)
    assert (c.total_gross, c.total_contributions, c.total_pre_seed, c.hits) == (43_200, 38_880, 100 * UNIT, 1)


def test_budget_report_and_net_position():
    cj, st = setup()
    pre_seed(cj, st, GRAND, "EUR", 100 * UNIT, actor="cfo", cause_id="ps", now=1)
    for i in range(10):
        apply_contribution(cj, st, bet(2_000_000, game="g12", bet_id=f"c{i}"))
    adjust(cj, st, GRAND, "EUR", -100_000, reason="MALFUNCTION_CORRECTION", actor="admin", cause_id="a", now=2)
    r = budget_report(st, "EUR", chain_prizes=50 * UNIT)
    seeds = sum(p.seed_draw for p in st.pools["EUR"].values())
    assert (r.gross_contributions, r.house_cut, r.net_pool_contributions) == (360_000, 36_000, 324_000)
    assert r.pre_seed == 100 * UNIT and r.seeds == seeds and r.adjustments_out == 100_000
    assert r.net_position == 36_000 + 100_000 - seeds - 100 * UNIT - 50 * UNIT
    assert r.pool_liability == sum(p.visible + p.hidden + p.carry + p.pending for p in st.pools["EUR"].values())
    alerts = budget_alerts(r)
    assert any("negative net position" in a for a in alerts)
    assert "chain reaction costs exceed 20% of the house cut" in alerts
    assert "pre-seed exceeds the house cut" in alerts
    assert budget_report(st, "USD").gross_contributions == 0


def test_expected_value_per_cycle_uses_the_spec_formulas():
    j = day_one_jackpot("Crown Fortune")
    e = expected_cycle(j.levels[0], "EUR", j.house_cut, gross_velocity_per_hour=Decimal("1000"))
    assert e.avg_seed == Decimal("6500") and e.avg_prize == Decimal("42500")
    # (42500 - 6500) / 0.9 x 0.1 = 4000
    assert e.contributions_needed == Decimal("40000")
    assert e.house_cut_per_cycle == Decimal("4000")
    assert e.chain_cost == Decimal("950")
    assert e.hidden_increment_cost == Decimal("3600")  # 10% of the 36000 growth
    assert e.net_per_cycle == Decimal("4000") - Decimal("950") - Decimal("3600")
    assert e.cycle_hours == Decimal("40") and e.monthly_net == e.net_per_cycle * 18


def test_cycle_overrun():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    assert not cycle_overrun(grand, grand.started_at + 3_600_000, Decimal("1"))
    assert cycle_overrun(grand, grand.started_at + 5_400_001, Decimal("1"))


def test_chain_cost_of_a_currency_with_its_own_amounts_but_the_levels_prizes():
    """A currency's own amounts that leave the chain prizes out pay the level's prizes (the payout
    does): the expected cycle counts them too (it counted 0)."""
    from jackpot.engine import Level

    from .helpers import level

    lv = Level.model_validate(level("Grand", 1, "1", chain_reaction={"enabled": True, "prize_count": 3,
                                                                     "prize_amounts": ["1000", "500", "250"]},
                                    seed_from="4000", seed_to="8000", win_from="30000", win_to="54000",
                                    win_max="60000",
                                    currency_amounts={"USD": {"seed_from": "4000", "seed_to": "8000",
                                                              "win_from": "30000", "win_to": "54000",
                                                              "win_max": "60000"}}))
    for currency in ("EUR", "USD"):
        assert expected_cycle(lv, currency, Decimal("0.10")).chain_cost == Decimal(1750)
