"""engine/reconfigure.py: a live jackpot under a newer config version."""

from jackpot.engine import apply_contribution, compile_jackpot
from jackpot.engine.reconfigure import CONFIG_ACTOR, adopt_config, missing_pools
from jackpot.engine.rng import master_seed_source

from .helpers import MASTER, bet, classic_levels, level, lid, make_jackpot, setup

seeds = master_seed_source(MASTER)
GRAND = lid("Grand")


def with_bonus(**kw):
    levels = classic_levels()
    levels[3]["contribution_split"] = "0.10"  # Mini gives 5% of the split to the new level
    return compile_jackpot(make_jackpot(levels=levels + [
        level("Bonus", 5, "0.05", seed_from="1", seed_to="2", win_from="5", win_to="9", win_max="10")], **kw))


def test_an_added_level_starts_at_once_and_takes_the_next_bet():
    cj, st = setup()
    apply_contribution(cj, st, bet(5_000_000))
    before = {c: {k: p.to_dict() for k, p in by.items()} for c, by in st.pools.items()}
    cj2 = with_bonus()
    assert missing_pools(cj2, st) == [(lid("Bonus"), "EUR"), (lid("Bonus"), "USD")]
    events = adopt_config(cj2, st, seeds, cause_id="config:v2", now=3_000)
    assert [e.event_type for e in events].count("CycleStarted") == 2
    assert missing_pools(cj2, st) == []
    for currency, by_level in before.items():  # existing pools are never touched
        for level_id, pool in by_level.items():
            assert st.pools[currency][level_id].to_dict() == pool
    result = apply_contribution(cj2, st, bet(5_000_000))  # raised KeyError before the adoption existed
    assert result.applied and lid("Bonus") in {lc.level_id for lc in result.levels}
    assert adopt_config(cj2, st, seeds, cause_id="config:v2", now=3_001) == []  # once only


def test_an_added_currency_takes_bets_in_it():
    cj, st = setup(currencies=["EUR"])
    cj2 = compile_jackpot(make_jackpot(currencies=["EUR", "RON"]))
    assert not apply_contribution(cj2, st, bet(currency="RON")).applied  # no pools yet: discarded
    adopt_config(cj2, st, seeds, cause_id="config:v2", now=3_000)
    assert apply_contribution(cj2, st, bet(currency="RON")).applied


def test_a_win_max_below_the_current_amount_faults_the_jackpot_once():
    cj, st = setup()
    amount = st.pools["EUR"][GRAND].visible + st.pools["EUR"][GRAND].hidden
    levels = classic_levels()
    levels[0]["win_max"] = str(amount // 1_000_000 - 1)  # one unit below the seeded amount
    levels[0]["win_to"] = levels[0]["win_from"] = levels[0]["seed_to"] = levels[0]["seed_from"] = "1"
    cj2 = compile_jackpot(make_jackpot(levels=levels))
    events = adopt_config(cj2, st, seeds, cause_id="config:v3", now=3_000)
    faulted = [e for e in events if e.event_type == "JackpotFaulted"]
    assert len(faulted) == 1 and faulted[0].payload["raised_by"] == CONFIG_ACTOR
    assert "win_max" in faulted[0].payload["reason"]
    assert st.status == "PAUSED" and st.fault
    assert adopt_config(cj2, st, seeds, cause_id="config:v4", now=3_001) == []  # already faulted


def test_limits_that_hold_change_nothing():
    cj, st = setup()
    before = st.to_dict()
    assert adopt_config(compile_jackpot(make_jackpot(contribution_rate="0.02")), st, seeds,
                        cause_id="config:v2", now=3_000) == []
    assert st.to_dict() == before
