"""Reductions only through wins or typed adjustments; never below the reset amount (items 4-5)."""

import pytest

from jackpot.engine import (
    AdjustmentRejected,
    LimitBelowCurrent,
    adjust,
    apply_contribution,
    begin_drop,
    check_limits,
    compile_jackpot,
    reconcile,
    transfer,
)
from jackpot.engine.catalog import CURACAO
from jackpot.engine.events import POOL_ADJUSTED

from .helpers import bet, classic_levels, lid, make_jackpot, setup

UNIT = 1_000_000
GRAND, MAJOR = lid("Grand"), lid("Major")
kw = dict(actor="admin-7", cause_id="adj-1", now=50)


def grown():
    cj, st = setup()
    for i in range(10):
        apply_contribution(cj, st, bet(100 * UNIT, game="g2", bet_id=f"g{i}"))
    return cj, st


def test_reduction_with_reason_and_actor():
    cj, st = grown()
    grand = st.pools["EUR"][GRAND]
    shown = grand.visible
    ev = adjust(cj, st, GRAND, "EUR", -UNIT, reason="MALFUNCTION_CORRECTION", note="ticket 42", **kw)
    assert grand.visible == shown - UNIT and grand.meters.adj_out == UNIT
    pa = [e for e in ev if e.event_type == POOL_ADJUSTED][0].payload
    assert pa["amount"] == -UNIT and pa["reason"] == "MALFUNCTION_CORRECTION" and pa["actor"] == "admin-7"
    assert pa["note"] == "ticket 42"
    reconcile(st)


def test_reductions_need_a_reduction_reason_code():
    cj, st = grown()
    with pytest.raises(AdjustmentRejected, match="OPERATOR_FUNDING cannot reduce a pool"):
        adjust(cj, st, GRAND, "EUR", -UNIT, reason="OPERATOR_FUNDING", **kw)
    with pytest.raises(AdjustmentRejected, match="unknown reason code 'oops'"):
        adjust(cj, st, GRAND, "EUR", -UNIT, reason="oops", **kw)
    with pytest.raises(AdjustmentRejected, match="needs an actor"):
        adjust(cj, st, GRAND, "EUR", -UNIT, reason="LIMIT", actor="", cause_id="x", now=1)
    with pytest.raises(AdjustmentRejected, match="LIMIT cannot increase a pool"):
        adjust(cj, st, GRAND, "EUR", UNIT, reason="LIMIT", **kw)
    with pytest.raises(AdjustmentRejected, match="non-zero int"):
        adjust(cj, st, GRAND, "EUR", 0, reason="LIMIT", **kw)


def test_never_below_the_reset_amount():
    cj, st = grown()
    grand = st.pools["EUR"][GRAND]
    room = grand.visible - grand.seed_amount
    with pytest.raises(AdjustmentRejected, match="below its reset amount"):
        adjust(cj, st, GRAND, "EUR", -(room + 1), reason="LIMIT", **kw)
    adjust(cj, st, GRAND, "EUR", -room, reason="LIMIT", **kw)
    assert grand.visible == grand.seed_amount
    reconcile(st)


def test_never_above_win_max():
    cj, st = setup()
    grand = st.pools["EUR"][GRAND]
    room = 60_000 * UNIT - grand.current_amount
    with pytest.raises(AdjustmentRejected, match="above win_max"):
        adjust(cj, st, GRAND, "EUR", room + 1, reason="OPERATOR_FUNDING", **kw)
    adjust(cj, st, GRAND, "EUR", room, reason="OPERATOR_FUNDING", **kw)
    assert grand.current_amount == 60_000 * UNIT


def test_locked_pools_cannot_be_adjusted():
    cj, st = grown()
    begin_drop(cj, st, GRAND, "EUR", cause_id="d", now=1)
    with pytest.raises(AdjustmentRejected, match="locked for a drop"):
        adjust(cj, st, GRAND, "EUR", UNIT, reason="OPERATOR_FUNDING", **kw)


def test_profile_can_prohibit_manual_adjustments():
    prof = CURACAO.model_dump(mode="python") | {"prohibited_actions": ["manual_adjust"]}
    cj, st = setup(compliance_profile=prof)
    with pytest.raises(AdjustmentRejected, match="prohibits manual adjustments"):
        adjust(cj, st, GRAND, "EUR", UNIT, reason="OPERATOR_FUNDING", **kw)


def test_transfer_is_atomic():
    cj, st = grown()
    g, m = st.pools["EUR"][GRAND], st.pools["EUR"][MAJOR]
    gv, mv = g.visible, m.visible
    ev = transfer(cj, st, GRAND, MAJOR, "EUR", 5 * UNIT, actor="admin", note="rebalance", cause_id="t1", now=9)
    assert g.visible == gv - 5 * UNIT and m.visible == mv + 5 * UNIT
    adjs = [e.payload for e in ev if e.event_type == POOL_ADJUSTED]
    assert [(a["level_id"], a["amount"], a["reason"]) for a in adjs] == [(GRAND, -5 * UNIT, "TRANSFER"), (MAJOR, 5 * UNIT, "TRANSFER")]
    assert len({e.event_id for e in ev}) == len(ev)
    # a transfer the destination cannot take moves nothing
    adjust(cj, st, GRAND, "EUR", 500 * UNIT, reason="OPERATOR_FUNDING", actor="cfo", cause_id="fund", now=9)
    before = st.to_dict()
    mini = st.pools["EUR"][lid("Mini")]
    amount = 150 * UNIT - mini.current_amount + 1  # Grand can give it, Mini cannot take it
    assert g.visible - g.seed_amount >= amount
    with pytest.raises(AdjustmentRejected, match="above win_max"):
        transfer(cj, st, GRAND, lid("Mini"), "EUR", amount, actor="admin", cause_id="t2", now=9)
    assert st.to_dict() == before
    with pytest.raises(AdjustmentRejected, match="two different levels"):
        transfer(cj, st, GRAND, GRAND, "EUR", UNIT, actor="admin", cause_id="t3", now=9)
    reconcile(st)


def test_a_new_limit_may_not_be_below_the_current_amount():
    cj, st = grown()
    grand = st.pools["EUR"][GRAND]
    check_limits(cj, st)
    lv = classic_levels()
    lv[0]["win_max"] = lv[0]["win_to"] = "50000"
    check_limits(compile_jackpot(make_jackpot(levels=lv)), st)  # still above the current amount
    lv[0].update(win_from="5000", win_to="5000", win_max="5000", seed_from="1", seed_to="1")
    assert grand.current_amount > 5_000 * UNIT
    with pytest.raises(LimitBelowCurrent, match="Grand/EUR: win_max 5000000000 < current amount"):
        check_limits(compile_jackpot(make_jackpot(levels=lv)), st)
