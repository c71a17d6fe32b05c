"""Pool side of a drop: lock, pay, hit history, reveal, reseed, release."""

import pytest

from jackpot.engine import (
    DropRejected,
    Outcome,
    Winner,
    abort_drop,
    apply_contribution,
    begin_drop,
    pause,
    reconcile,
    set_level_status,
    settle_drop,
)
from jackpot.engine.events import (
    CYCLE_REVEALED,
    CYCLE_STARTED,
    DROP_STARTED,
    JACKPOT_RESEEDED,
    JACKPOT_STATE_CHANGED,
    POOL_UPDATED,
    WARN_THRESHOLD_REACHED,
    WIN_RECORDED,
)
from jackpot.engine.rng import CycleContext, DrawRanges, master_seed_source, rederive_cycle

from .helpers import MASTER, bet, level, lid, setup

UNIT = 1_000_000
GRAND, MAJOR = lid("Grand"), lid("Major")
seeds = master_seed_source(MASTER)


def winner(i=0):
    return Winner(f"player-{i}", "g1", "brand-1", f"trigger-{i}")


def test_begin_drop_locks_and_enters_dropping():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    shown = grand.visible
    t = begin_drop(cj, st, GRAND, "EUR", cause_id="d1", now=50)
    assert st.status == "DROPPING" and grand.locked and t.win_amount == shown == grand.lock_amount
    assert [e.event_type for e in t.events] == [JACKPOT_STATE_CHANGED, DROP_STARTED]
    assert t.events[0].payload["new_state"] == "DROPPING" and t.events[0].payload["changed_by"] == "system"
    # contributions queue for the locked pool, others keep growing
    r = apply_contribution(cj, st, bet(2_000_000, game="g12"))
    assert r.outcome == Outcome.APPLIED
    assert r.levels[0].pending == 12_960 and grand.visible == shown and grand.pending == 12_960
    assert r.levels[1].visible == 8_100
    assert GRAND not in r.trigger_candidates
    with pytest.raises(DropRejected, match="already has a drop in progress"):
        begin_drop(cj, st, GRAND, "EUR", cause_id="d2", now=51)
    reconcile(st)


def test_settle_pays_records_reveals_reseeds_and_applies_the_queue():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    old = dict(cycle=grand.cycle, seed=grand.rng_seed, commitment=grand.commitment, target=grand.win_target)
    t = begin_drop(cj, st, GRAND, "EUR", cause_id="d1", now=50)
    apply_contribution(cj, st, bet(2_000_000, game="g12"))  # queued: 12_960 for Grand
    s = settle_drop(cj, st, GRAND, "EUR", winner(), next_seed=seeds(GRAND, "EUR", 2), cause_id="s1", now=60)
    types = [e.event_type for e in s.events]
    assert types[:2] == [WIN_RECORDED, CYCLE_REVEALED]
    assert CYCLE_STARTED in types and JACKPOT_RESEEDED in types and POOL_UPDATED in types
    assert types[-1] == JACKPOT_STATE_CHANGED and st.status == "ACTIVE"
    won = s.events[0].payload
    assert won["win_amount"] == t.win_amount and won["winner_player_id"] == "player-0" and won["trigger_bet_id"] == "trigger-0"
    assert grand.meters.won == t.win_amount and grand.meters.hits == 1
    assert grand.hits[-1].amount == t.win_amount and grand.hits[-1].timestamp == 60
    assert grand.hits[-1].game_id == "g1" and grand.hits[-1].cycle == old["cycle"]
    # new cycle, seed from the new secret, queued contribution applied on top
    assert grand.cycle == old["cycle"] + 1 and grand.commitment != old["commitment"]
    assert grand.visible == grand.seed_amount + 12_960 and grand.pending == 0
    assert grand.cycle_contributions == 12_960
    reseeded = [e for e in s.events if e.event_type == JACKPOT_RESEEDED][0].payload
    assert reseeded["new_seed_amount"] == grand.seed_amount and "new_win_target" not in reseeded
    assert reseeded["commitment"] == grand.commitment
    # the reveal lets an auditor recompute the old cycle
    rev = [e for e in s.events if e.event_type == CYCLE_REVEALED][0].payload
    assert rev["seed"] == old["seed"] and rev["win_target"] == old["target"]
    d = rederive_cycle(rev["seed"], old["commitment"], CycleContext(cj.jackpot_id, GRAND, "EUR", old["cycle"]),
                       DrawRanges.from_dict(rev["ranges"]))
    assert d.win_target == old["target"] and d.seed_draw == rev["seed_draw"]
    reconcile(st)


def test_last_25_hits_are_kept_per_pool():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    paid = []
    for i in range(30):
        t = begin_drop(cj, st, GRAND, "EUR", cause_id=f"d{i}", now=100 + i)
        settle_drop(cj, st, GRAND, "EUR", winner(i), next_seed=seeds(GRAND, "EUR", grand.cycle + 1), cause_id=f"s{i}", now=200 + i)
        paid.append(t.win_amount)
    assert grand.meters.hits == 30 and len(grand.hits) == 25
    assert [h.player_id for h in grand.hits] == [f"player-{i}" for i in range(5, 30)]
    assert [h.amount for h in grand.hits] == paid[5:]
    assert [h.timestamp for h in grand.hits] == [200 + i for i in range(5, 30)]
    assert grand.meters.won == sum(paid)
    reconcile(st)


def test_hit_history_size_comes_from_the_profile():
    from jackpot.engine.catalog import CURACAO

    prof = CURACAO.model_dump(mode="python") | {"hit_history_size": 40}
    cj, st = setup(compliance_profile=prof)
    assert cj.hit_history == 40
    with pytest.raises(Exception, match="greater than or equal to 25"):
        setup(compliance_profile=CURACAO.model_dump(mode="python") | {"hit_history_size": 5})


def test_several_drops_keep_dropping_until_the_last_settles():
    cj, st = setup()
    begin_drop(cj, st, GRAND, "EUR", cause_id="d1", now=1)
    begin_drop(cj, st, MAJOR, "EUR", cause_id="d2", now=2)
    settle_drop(cj, st, GRAND, "EUR", winner(), next_seed=seeds(GRAND, "EUR", 2), cause_id="s1", now=3)
    assert st.status == "DROPPING"
    settle_drop(cj, st, MAJOR, "EUR", winner(), next_seed=seeds(MAJOR, "EUR", 2), cause_id="s2", now=4)
    assert st.status == "ACTIVE"


def test_abort_returns_the_prize_to_the_pool():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    shown = grand.visible
    begin_drop(cj, st, GRAND, "EUR", cause_id="d1", now=1)
    apply_contribution(cj, st, bet(2_000_000, game="g12"))
    with pytest.raises(DropRejected, match="needs a reason"):
        abort_drop(cj, st, GRAND, "EUR", actor="mgr", reason="", cause_id="a0", now=2)
    ev = abort_drop(cj, st, GRAND, "EUR", actor="mgr", reason="approval declined", cause_id="a1", now=2)
    assert st.status == "ACTIVE" and not grand.locked
    assert grand.visible == shown + 12_960 and grand.meters.hits == 0 and grand.cycle == 1
    assert ev[-1].payload["reason"] == "drop aborted: approval declined"
    reconcile(st)


def test_drop_refusals():
    cj, st = setup()
    with pytest.raises(DropRejected, match="has no drop in progress"):
        settle_drop(cj, st, GRAND, "EUR", winner(), next_seed=seeds(GRAND, "EUR", 2), cause_id="s", now=1)
    begin_drop(cj, st, GRAND, "EUR", cause_id="d", now=1)
    with pytest.raises(DropRejected, match="needs the next cycle's 32-byte seed"):
        settle_drop(cj, st, GRAND, "EUR", winner(), next_seed=None, cause_id="s", now=2)
    with pytest.raises(DropRejected, match="final drop ends a TIMED or PROMOTIONAL jackpot or a decommission"):
        settle_drop(cj, st, GRAND, "EUR", winner(), next_seed=None, cause_id="s", now=2, final=True)

    cj, st = setup()
    set_level_status(cj, st, GRAND, "NO_WIN", actor="admin", reason="pool building", cause_id="c", now=1)
    with pytest.raises(DropRejected, match="NO_WIN mode"):
        begin_drop(cj, st, GRAND, "EUR", cause_id="d", now=2)
    pause(cj, st, actor="op", reason="x", cause_id="p", now=3)
    with pytest.raises(DropRejected, match="no drops while the jackpot is PAUSED"):
        begin_drop(cj, st, MAJOR, "EUR", cause_id="d", now=4)

    cj, st = setup(levels=[level("Zero", 1, "1", seed_from="0", seed_to="0")])
    with pytest.raises(DropRejected, match="nothing to pay"):
        begin_drop(cj, st, lid("Zero"), "EUR", cause_id="d", now=1)


def test_final_drop_expires_a_timed_jackpot():
    cj, st = setup(type="TIMED", schedule={"recurrence": "daily", "close_time": "23:59:59"},
                   levels=[level("Solo", 1, "1", hidden_increment={"enabled": True, "coefficient": "0.1"})])
    pool = st.pools["EUR"][lid("Solo")]
    apply_contribution(cj, st, bet(10_000_000))
    begin_drop(cj, st, lid("Solo"), "EUR", cause_id="d", now=1)
    apply_contribution(cj, st, bet(10_000_000))  # queued during the drop
    s = settle_drop(cj, st, lid("Solo"), "EUR", winner(), next_seed=None, cause_id="s", now=2, final=True)
    assert s.draws is None and pool.closed and pool.visible == 0
    assert pool.carry > 0 and pool.pending == 0 and pool.hidden == 0  # reserve kept, reported
    assert st.status == "EXPIRED"
    assert s.events[-1].payload["new_state"] == "EXPIRED"
    assert st.pools["USD"][lid("Solo")].closed is False
    assert apply_contribution(cj, st, bet()).outcome == Outcome.DISCARDED
    reconcile(st)


def test_warn_threshold_published_once_per_cycle_without_revealing_the_draw():
    lv = [level("Solo", 1, "1", seed_from="1", seed_to="1", win_from="10", win_to="10", win_max="20",
                warn_from="0.5", warn_to="0.6", max_contribution="100")]
    cj, st = setup(levels=lv, contribution_rate="1", house_cut="0")
    pool = st.pools["EUR"][lid("Solo")]
    assert 5 * UNIT <= pool.warn_threshold <= 6 * UNIT
    warned = []
    for i in range(8):
        r = apply_contribution(cj, st, bet(UNIT, bet_id=f"w{i}"))
        warned += [e for e in r.events if e.event_type == WARN_THRESHOLD_REACHED]
        upd = [e for e in r.events if e.event_type == POOL_UPDATED][0]
        assert upd.payload["state"] == ("warn" if pool.current_amount >= pool.warn_threshold else "normal")
    assert len(warned) == 1
    assert warned[0].payload["warn_percentage"] == ["0.5", "0.6"]
    assert str(pool.warn_threshold) not in str(warned[0].payload)
