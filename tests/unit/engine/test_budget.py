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


def test_expected_value_per_cycle_says_who_funds_each_part():
    """Crown Fortune's Grand (seed 5,000-8,000, win 30,000-55,000, hidden increment 10%, house cut
    10%, chain prizes 950), by hand: growth to the average target 42,500 from the average seed
    draw 6,500 is 36,000; 1/1.1 of it is contributed this cycle (32,727.27...) and 1/11 is the
    players' reserve carried in from the cycle before (3,272.72...), so the reset amount is
    9,772.72...; gross 32,727.27... / 0.9 = 36,363.63..., house cut 3,636.36...; the operator pays
    the 6,500 seed draw and 950 of chain prizes: net -3,813.63... per cycle."""
    j = day_one_jackpot("Crown Fortune")
    e = expected_cycle(j.levels[0], "EUR", j.house_cut, gross_velocity_per_hour=Decimal("1000"))
    third = Decimal(36000) / Decimal("1.1")
    assert (e.avg_seed, e.avg_target, e.seed_cost) == (Decimal(6500), Decimal(42500), Decimal(6500))
    q = Decimal("1e-12")
    assert e.net_contributions.quantize(q) == third.quantize(q)
    assert e.carried_reserve.quantize(q) == (Decimal(36000) - third).quantize(q)
    assert e.reset_amount == Decimal(6500) + e.carried_reserve
    assert e.avg_prize == Decimal(42500) - third / 10  # the hidden tenth of this cycle is not paid
    assert e.contributions_needed == third / Decimal("0.9") and e.house_cut_per_cycle == e.contributions_needed / 10
    assert e.chain_cost == Decimal(950)
    assert e.net_per_cycle == e.house_cut_per_cycle - 6500 - 950
    assert round(e.net_per_cycle, 2) == Decimal("-3813.64")
    assert e.cycle_hours == e.contributions_needed / 1000 and e.monthly_net == e.net_per_cycle * 720 / e.cycle_hours


def test_the_budget_model_is_the_engines_money_cycle_by_cycle():
    """A hand-computed steady cycle, run through the engine: seed 1,000, target 5,000 (win range
    5,000-5,000), hidden increment 25%, house cut 20%, bets of 1. The model: growth 4,000, 3,200
    contributed and 800 carried in; gross 4,000, house cut 800; the operator pays the 1,000 seed
    draw: net -200 a cycle. The engine's cycles converge to it (the carry halves its distance to
    800 every cycle), and its P&L over the run is exactly the sum of house cut less seed draws."""
    from .flow import Driver
    from .helpers import level

    lv = level("Solo", 1, "1", seed_from="1000", seed_to="1000", win_from="5000", win_to="5000", win_max="9000",
               evaluation_delay_from=1, evaluation_delay_to=1, hidden_increment={"enabled": True, "coefficient": "0.25"})
    cj, st = setup(levels=[lv], contribution_rate="1", house_cut="0.2", currencies=["EUR"])
    e = expected_cycle(cj.config.levels[0], "EUR", cj.config.house_cut)
    assert (e.net_contributions, e.carried_reserve, e.contributions_needed) == (3200, 800, 4000)
    assert (e.house_cut_per_cycle, e.seed_cost, e.net_per_cycle, e.avg_prize) == (800, 1000, -200, 4200)
    d = Driver(cj, st)
    pool = st.pools["EUR"][cj.levels[0].level_id]
    cycles = []
    while len(cycles) < 8:
        cycle, house0 = pool.cycle, pool.meters.house
        carried, reset = pool.carry_in, pool.seed_amount
        while pool.cycle == cycle and not pool.locked:
            d.bet(100, "p1")  # 100 gross: 80 net, 20 hidden of it
        for c in d.credits():
            d.wallet(c)
        cycles.append((carried, reset, pool.meters.house - house0))
    carried, reset, house = cycles[-1]
    # cycle 1 starts bare; cycle 2 carries 25% of the 4,000 (and of the bet after it: the evaluation delay)
    assert cycles[0][0] == 0 and 1000 * 10**6 <= cycles[1][0] <= 1025 * 10**6
    assert abs(carried - 800 * 10**6) <= 25 * 10**6 and abs(house - 800 * 10**6) <= 25 * 10**6, cycles
    r = budget_report(st, "EUR")  # eight cycles paid and reseeded: nine seed draws, the ninth running
    assert r.house_cut == sum(h for _, _, h in cycles) and r.seeds == 9 * 1000 * 10**6
    assert r.net_position == r.house_cut - r.seeds


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
