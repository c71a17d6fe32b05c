"""engine/succession.py: a next_cycle change takes effect at the reseed that ends the cycle it waits
for, and that new cycle is drawn under the new math (before, the scheduler published it a moment
after the reseed, so the new cycle ran its first draw, and its first bets, under the old math)."""

from jackpot.engine import compile_jackpot, succession
from jackpot.engine.pool import JackpotState

from .flow import SOLO, UNIT, Driver, solo, solo_level
from .helpers import level, lid, make_jackpot, setup

TWO = [level("A", 1, "0.5", seed_from="1", seed_to="1", win_from="10", win_to="12", win_max="20",
             max_contribution="1000", evaluation_delay_from=1, evaluation_delay_to=1),
       level("B", 2, "0.5", seed_from="1", seed_to="1", win_from="10", win_to="12", win_max="20",
             max_contribution="1000", evaluation_delay_from=1, evaluation_delay_to=1)]


def _next_solo(**kw):
    return compile_jackpot(make_jackpot(levels=[solo_level(**kw)], contribution_rate="1", house_cut="0",
                                        currencies=["EUR"]))


def _reseed(d: Driver, level_id: str):
    """Force a drop of one level and confirm its payout: the pool reseeds."""
    d.bet(0.01, "p1")
    out = d.command("force_drop", level_id=level_id, currency="EUR")
    for cmd in d.credits(out):
        d.wallet(cmd)


def test_the_reseed_that_ends_the_cycle_draws_the_new_one_under_the_next_version():
    d = solo(currencies=["EUR"])
    nxt = _next_solo(seed_from="3", seed_to="3", win_from="20", win_to="22", win_max="30")
    d.cj = succession.attach(d.cj, nxt, {"levels": [SOLO], "change_id": "c-1"})
    assert succession.note(d.cj, d.st) and not succession.note(d.cj, d.st)  # noted once
    d.bet(1)
    assert not succession.due(d.cj, d.st) and d.pool().ranges["win_from"] == 10 * UNIT  # the cycle runs on
    out = d.run_to_drop()
    assert not succession.due(d.cj, d.st)  # dropping: the cycle ends with the payout
    for cmd in d.credits(out):
        d.wallet(cmd)
    pool = d.pool()
    assert pool.cycle == 2 and pool.seed_draw == 3 * UNIT
    assert pool.ranges["win_from"] == 20 * UNIT and pool.ranges["win_to"] == 22 * UNIT
    assert succession.due(d.cj, d.st)


def test_with_two_levels_waited_for_only_the_last_reseed_draws_under_the_next_version():
    cj, st = setup(levels=TWO, contribution_rate="1", house_cut="0", currencies=["EUR"])
    d = Driver(cj, st)
    raised = [dict(lv, seed_from="4", seed_to="4", win_from="30", win_to="32", win_max="40") for lv in TWO]
    nxt = compile_jackpot(make_jackpot(levels=raised, contribution_rate="1", house_cut="0", currencies=["EUR"]))
    d.cj = succession.attach(d.cj, nxt, {"levels": [lid("A"), lid("B")]})
    succession.note(d.cj, d.st)
    _reseed(d, lid("A"))
    assert d.pool(lid("A")).cycle == 2 and d.pool(lid("A")).seed_draw == 1 * UNIT  # B's cycle still runs
    assert not succession.due(d.cj, d.st)
    _reseed(d, lid("B"))
    assert d.pool(lid("B")).cycle == 2 and d.pool(lid("B")).seed_draw == 4 * UNIT
    assert d.pool(lid("B")).ranges["win_from"] == 30 * UNIT
    assert succession.due(d.cj, d.st)


def test_a_withdrawn_successor_is_forgotten_and_a_closed_pool_is_not_waited_for():
    d = solo()
    nxt = _next_solo(win_from="20", win_to="22", win_max="30")
    d.cj = succession.attach(d.cj, nxt, {"levels": [SOLO], "change_id": "c-1"})
    succession.note(d.cj, d.st)
    assert d.st.successor["cycles"] == {f"{SOLO}|EUR": 1, f"{SOLO}|USD": 1}  # every currency's pool
    assert JackpotState.from_dict(d.st.to_dict()).successor == d.st.successor  # persisted exactly
    for pool in d.st.iter_pools():
        pool.closed = True
    assert succession.due(d.cj, d.st)
    plain = compile_jackpot(make_jackpot(levels=[solo_level()], contribution_rate="1", house_cut="0"))
    assert succession.note(plain, d.st) and d.st.successor == {}
    assert not succession.due(plain, d.st)


def test_a_published_record_splits_into_the_live_config_and_the_following_one():
    live = {"jackpot_id": "j", "name": "x"}
    assert succession.split(live) == (live, None)
    doc, following = succession.split({**live, "next_cycle": {"config": {"name": "y"}, "levels": ["l"]}})
    assert doc == live and following == {"config": {"name": "y"}, "levels": ["l"]}
