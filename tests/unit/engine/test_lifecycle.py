import itertools

import pytest

from jackpot.engine import (
    IllegalTransition,
    Winner,
    activate,
    apply_contribution,
    archive,
    begin_drop,
    compile_jackpot,
    expire,
    new_jackpot_state,
    pause,
    resume,
    set_level_status,
    settle_drop,
    transition_jackpot,
)
from jackpot.engine.catalog import CURACAO
from jackpot.engine.events import JACKPOT_STATE_CHANGED
from jackpot.engine.lifecycle import JACKPOT_TRANSITIONS, LEVEL_TRANSITIONS
from jackpot.engine.rng import master_seed_source

from .helpers import MASTER, bet, lid, make_jackpot, setup

STATUSES = ["DRAFT", "ACTIVE", "PAUSED", "DROPPING", "EXPIRED", "ARCHIVED"]
LEVELS = ["ENABLED", "PAUSED", "NO_WIN", "DISABLED"]
GRAND = lid("Grand")
TIMED = dict(type="TIMED", schedule={"recurrence": "daily", "close_time": "23:59:59"})
seeds = master_seed_source(MASTER)
kw = dict(actor="op", reason="test", cause_id="cmd", now=7)


def state_in(status):
    cj = compile_jackpot(make_jackpot(**TIMED))
    st = new_jackpot_state(cj)
    if status == "DRAFT":
        return cj, st
    activate(cj, st, seeds, actor="op", cause_id="act", now=1)
    if status == "PAUSED":
        pause(cj, st, **kw)
    elif status == "DROPPING":
        begin_drop(cj, st, GRAND, "EUR", cause_id="d", now=2)
    elif status in ("EXPIRED", "ARCHIVED"):
        expire(cj, st, **kw)
        if status == "ARCHIVED":
            archive(cj, st, **kw)
    assert st.status == status
    return cj, st


def test_transition_table_is_the_spec():
    assert {k: set(v) for k, v in JACKPOT_TRANSITIONS.items()} == {
        "DRAFT": {"ACTIVE"},
        "ACTIVE": {"PAUSED", "DROPPING", "EXPIRED", "ARCHIVED"},
        "PAUSED": {"ACTIVE", "ARCHIVED"},
        "DROPPING": {"ACTIVE", "EXPIRED"},
        "EXPIRED": {"ARCHIVED"},
        "ARCHIVED": set(),
    }


ILLEGAL = [(a, b) for a, b in itertools.product(STATUSES, STATUSES) if a != b and b not in JACKPOT_TRANSITIONS[a]]


@pytest.mark.parametrize("old, new", ILLEGAL)
def test_illegal_jackpot_transitions_are_rejected_with_a_reason(old, new):
    cj, st = state_in(old)
    before = st.to_dict()
    with pytest.raises(IllegalTransition, match=f"jackpot cannot go from {old} to {new}; {old} may go to") as ei:
        transition_jackpot(cj, st, new, **kw)
    if old == "ARCHIVED":
        assert "terminal state" in ei.value.reason
    assert st.to_dict() == before


@pytest.mark.parametrize("status", STATUSES)
def test_same_state_is_rejected(status):
    cj, st = state_in(status)
    with pytest.raises(IllegalTransition, match=f"already {status}"):
        transition_jackpot(cj, st, status, **kw)


def test_draft_to_active_goes_through_activate():
    cj, st = state_in("DRAFT")
    with pytest.raises(IllegalTransition, match="use lifecycle.activate"):
        transition_jackpot(cj, st, "ACTIVE", **kw)
    ev = activate(cj, st, seeds, actor="op", cause_id="act", now=1)
    assert st.status == "ACTIVE" and all(p.cycle == 1 for p in st.iter_pools())
    assert ev[0].event_type == JACKPOT_STATE_CHANGED
    assert ev[0].payload == {"jackpot_id": cj.jackpot_id, "level_id": None, "old_state": "DRAFT", "new_state": "ACTIVE",
                             "changed_by": "op", "reason": "activated", "timestamp": 1}
    with pytest.raises(IllegalTransition, match="only a DRAFT jackpot can be activated"):
        activate(cj, st, seeds, actor="op", cause_id="act", now=1)


def test_dropping_is_entered_and_left_only_by_the_drop_functions():
    cj, st = state_in("ACTIVE")
    with pytest.raises(IllegalTransition, match="entered by starting a drop"):
        transition_jackpot(cj, st, "DROPPING", **kw)
    cj, st = state_in("DROPPING")
    for target in ("ACTIVE", "EXPIRED"):
        with pytest.raises(IllegalTransition, match="a drop is still in progress on"):
            transition_jackpot(cj, st, target, **kw)
    settle_drop(cj, st, GRAND, "EUR", Winner("p", "g1", "b", "t"), next_seed=seeds(GRAND, "EUR", 2), cause_id="s", now=3)
    assert st.status == "ACTIVE"


def test_only_timed_or_promotional_jackpots_expire():
    cj, st = setup()  # PERSISTENT
    with pytest.raises(IllegalTransition, match="only TIMED or PROMOTIONAL jackpots expire; this one is PERSISTENT"):
        expire(cj, st, **kw)
    cj, st = state_in("ACTIVE")
    expire(cj, st, **kw)
    assert st.status == "EXPIRED"
    assert apply_contribution(cj, st, bet()).reason == "jackpot_not_accepting"


def test_pause_and_resume():
    cj, st = state_in("ACTIVE")
    ev = pause(cj, st, actor="op", reason="maintenance", cause_id="p", now=5)
    assert st.status == "PAUSED" and ev[0].payload["reason"] == "maintenance"
    resume(cj, st, **kw)
    assert st.status == "ACTIVE"
    with pytest.raises(IllegalTransition, match="only a PAUSED jackpot can be resumed; this one is ACTIVE"):
        resume(cj, st, **kw)
    assert st.status == "ACTIVE"


def test_archive_guards():
    cj, st = state_in("PAUSED")
    apply_contribution(cj, st, bet())
    with pytest.raises(IllegalTransition, match="cannot archive with pending contributions"):
        archive(cj, st, **kw)
    resume(cj, st, **kw)
    archive(cj, st, **kw)
    assert st.status == "ARCHIVED"
    for fn in (pause, resume, expire):
        with pytest.raises(IllegalTransition):
            fn(cj, st, **kw)


def test_a_state_change_needs_a_reason():
    cj, st = state_in("ACTIVE")
    with pytest.raises(IllegalTransition, match="needs a reason"):
        pause(cj, st, actor="op", reason="", cause_id="p", now=1)


def test_compliance_profile_can_prohibit_pause_and_no_win():
    prof = CURACAO.model_dump(mode="python") | {"prohibited_actions": ["pause", "no_win_mode"]}
    cj, st = setup(compliance_profile=prof)
    with pytest.raises(IllegalTransition, match="prohibits pausing"):
        pause(cj, st, **kw)
    with pytest.raises(IllegalTransition, match="prohibits no-win mode"):
        set_level_status(cj, st, GRAND, "NO_WIN", **kw)


def test_level_transition_table():
    assert {k: set(v) for k, v in LEVEL_TRANSITIONS.items()} == {
        "ENABLED": {"PAUSED", "NO_WIN", "DISABLED"},
        "PAUSED": {"ENABLED", "NO_WIN", "DISABLED"},
        "NO_WIN": {"ENABLED", "PAUSED", "DISABLED"},
        "DISABLED": {"ENABLED"},
    }


def level_in(status):
    cj, st = setup()
    if status == "ENABLED":
        return cj, st
    set_level_status(cj, st, GRAND, status, **kw)
    return cj, st


@pytest.mark.parametrize("old, new", [(a, b) for a, b in itertools.product(LEVELS, LEVELS) if a != b])
def test_level_transitions(old, new):
    cj, st = level_in(old)
    if new in LEVEL_TRANSITIONS[old]:
        ev = set_level_status(cj, st, GRAND, new, actor="op", reason="why", cause_id="c2", now=9)
        assert st.level_status[GRAND] == new
        assert ev[0].payload["level_id"] == GRAND and ev[0].payload["old_state"] == old and ev[0].payload["new_state"] == new
    else:
        with pytest.raises(IllegalTransition, match=f"level 'Grand' cannot go from {old} to {new}"):
            set_level_status(cj, st, GRAND, new, **kw)
        assert st.level_status[GRAND] == old


def test_level_with_a_drop_in_progress_cannot_change():
    cj, st = setup()
    begin_drop(cj, st, GRAND, "EUR", cause_id="d", now=1)
    with pytest.raises(IllegalTransition, match="has a drop in progress"):
        set_level_status(cj, st, GRAND, "PAUSED", **kw)


def test_disabled_level_keeps_its_balance():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    shown = grand.visible
    set_level_status(cj, st, GRAND, "DISABLED", **kw)
    apply_contribution(cj, st, bet())
    assert grand.visible == shown


def test_ensure_pools_adds_what_a_new_config_version_introduces():
    from jackpot.engine.lifecycle import ensure_pools

    from .helpers import classic_levels, level

    cj, st = setup(currencies=["EUR"])
    grand_before = st.pools["EUR"][GRAND].to_dict()
    cj2 = compile_jackpot(make_jackpot(currencies=["EUR", "RON"], levels=classic_levels()[:3] + [
        level("Mini", 4, "0.10", seed_from="10", seed_to="20", win_from="50", win_to="120", win_max="150"),
        level("Bonus", 5, "0.05", seed_from="1", seed_to="2", win_from="5", win_to="9", win_max="10"),
    ]))
    ev = ensure_pools(cj2, st, seeds, cause_id="cfg-v2", now=50)
    assert set(st.pools) == {"EUR", "RON"} and len(st.pools["RON"]) == 5
    assert st.pools["EUR"][lid("Bonus")].cycle == 1 and st.level_status[lid("Bonus")] == "ENABLED"
    assert st.pools["EUR"][GRAND].to_dict() == grand_before
    assert len([e for e in ev if e.event_type == "CycleStarted"]) == 6  # 5 RON + 1 new EUR level
    assert ensure_pools(cj2, st, seeds, cause_id="cfg-v2", now=51) == []
    apply_contribution(cj2, st, bet(currency="RON"))


def test_expiry_applies_what_paused_levels_held():
    cj, st = state_in("ACTIVE")
    set_level_status(cj, st, GRAND, "PAUSED", **kw)
    apply_contribution(cj, st, bet(2_000_000, game="g12"))
    grand = st.pools["EUR"][GRAND]
    shown, held = grand.visible, grand.pending
    assert held == 12_960
    expire(cj, st, **kw)
    assert grand.pending == 0 and grand.visible == shown + held
    archive(cj, st, **kw)
    assert st.status == "ARCHIVED"


def test_activation_applies_the_configured_launch_pre_seed_before_any_bet():
    """Spec (Pre-Seeding): the operator funds the initial pool before contributions begin, and the
    pre-seed is metered apart; a pre-seed that would start a cycle inside its win range is refused."""
    import pydantic

    from .helpers import classic_levels

    levels = classic_levels()
    levels[0]["pre_seed"] = "20000"  # Grand: seed 5000-8000, win_from 30000
    levels[1]["currency_amounts"] = {"USD": {"seed_from": "500", "seed_to": "800", "win_from": "2500",
                                             "win_to": "5000", "win_max": "6000", "pre_seed": "1000"}}
    cj = compile_jackpot(make_jackpot(levels=levels))
    st = new_jackpot_state(cj)
    activate(cj, st, seeds, actor="op", cause_id="act", now=1)
    grand, major = st.pools["EUR"][GRAND], st.pools["USD"][lid("Major")]
    assert grand.cycle_pre_seed == grand.meters.pre_seeded == 20_000_000_000
    assert grand.visible + grand.hidden == grand.seed_amount >= 25_000_000_000
    assert major.cycle_pre_seed == 1_000_000_000 and st.pools["EUR"][lid("Major")].cycle_pre_seed == 0
    assert st.pools["USD"][GRAND].cycle_pre_seed == 20_000_000_000  # the level's, where no currency overrides it
    levels[0]["pre_seed"] = "22000.01"  # 8000 + 22000.01 > win_from 30000
    with pytest.raises(pydantic.ValidationError, match="pre_seed 22000.01"):
        make_jackpot(levels=levels)
