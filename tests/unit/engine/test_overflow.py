"""Win Max: the pool freezes at its ceiling, overflow is routed (never dropped) and reported."""

from jackpot.engine import apply_contribution, reconcile, regulatory_meters, set_level_status
from jackpot.engine.events import POOL_APPROACHING_MAX, POOL_AT_MAX, POOL_UPDATED

from .helpers import bet, level, lid, setup

A, B = lid("A"), lid("B")
UNIT = 1_000_000


def two_levels(a_overflow=None, b_overflow=None, **a_kw):
    a = level("A", 1, "0.5", seed_from="1", seed_to="1", win_from="5", win_to="5", win_max="10",
              max_contribution="100", **a_kw)
    b = level("B", 2, "0.5", seed_from="1", seed_to="1", win_from="20", win_to="20", win_max="30", max_contribution="100")
    if a_overflow:
        a["overflow"] = a_overflow
    if b_overflow:
        b["overflow"] = b_overflow
    # rate 100%, no house cut: a EUR 4.00 bet puts 2.00 into each level
    return setup(levels=[a, b], contribution_rate="1", house_cut="0")


def feed(cj, st, n, amount=4 * UNIT):
    return [apply_contribution(cj, st, bet(amount, bet_id=f"f{i}-{amount}", ts=10 + i)) for i in range(n)]


def test_buffer_mode_freezes_and_keeps_overflow_in_reserve():
    cj, st = two_levels()
    a = st.pools["EUR"][A]
    rs = feed(cj, st, 6)  # A: 1 + 6 x 2 = 13 > 10
    assert a.current_amount == 10 * UNIT == a.visible
    assert a.carry == 3 * UNIT and a.meters.overflow == 3 * UNIT == a.meters.overflow_reserve
    last = rs[-1].levels[0]
    assert (last.net, last.visible, last.overflow, last.overflow_reserve) == (2 * UNIT, 0, 2 * UNIT, 2 * UNIT)
    partial = rs[4].levels[0]  # 9 -> 10 accepts 1.00, overflows 1.00
    assert (partial.visible, partial.overflow) == (UNIT, UNIT)
    assert regulatory_meters(a)["reserve"] == 3 * UNIT
    assert regulatory_meters(a)["displayed"] == 10 * UNIT
    reconcile(st)


def test_frozen_pool_is_still_handed_to_the_trigger_stage():
    cj, st = two_levels()
    rs = feed(cj, st, 6)
    assert rs[-1].trigger_candidates == (A,)  # at win_max, >= target 5: checks 2-7 continue


def test_approaching_max_and_at_max_published_once_per_cycle():
    cj, st = two_levels(approaching_max_at="0.5")
    rs = feed(cj, st, 7)
    types = [[e.event_type for e in r.events if e.event_type in (POOL_APPROACHING_MAX, POOL_AT_MAX)] for r in rs]
    # A: 3, 5 (>= 50% of 10: approaching), 7, 9, 10 (at max), 10, 10
    assert types[1] == [POOL_APPROACHING_MAX]
    assert types[4].count(POOL_AT_MAX) == 1
    flat = [t for ts in types for t in ts]
    assert flat.count(POOL_APPROACHING_MAX) == 1 and flat.count(POOL_AT_MAX) == 1
    ev = [e for e in rs[1].events if e.event_type == POOL_APPROACHING_MAX][0]
    assert ev.payload["current_amount"] == 5 * UNIT and ev.payload["win_max"] == 10 * UNIT
    assert ev.payload["percentage_of_max"] == "50.00"
    upd = [e for e in rs[4].events if e.event_type == POOL_UPDATED and e.payload["level_id"] == A][0]
    assert upd.payload["state"] == "critical"


def test_default_approaching_threshold_is_90_percent():
    cj, st = two_levels()
    rs = feed(cj, st, 5)  # 3, 5, 7, 9 (90%), 10
    assert [any(e.event_type == POOL_APPROACHING_MAX for e in r.events) for r in rs] == [False, False, False, True, False]


def test_redirect_mode_moves_overflow_to_other_levels():
    cj, st = two_levels(a_overflow={"mode": "redirect"})
    a, b = st.pools["EUR"][A], st.pools["EUR"][B]
    rs = feed(cj, st, 6)
    assert a.current_amount == 10 * UNIT and a.carry == 0
    # B: 1 + 6 x 2 own + 3 redirected
    assert b.current_amount == 16 * UNIT
    assert a.meters.overflow_redirected == 3 * UNIT == b.meters.transfers_in
    lcs = {lc.level_id: lc for lc in rs[-1].levels}
    assert lcs[A].redirected == ((B, 2 * UNIT),)
    assert lcs[B].transfer_in == 2 * UNIT == lcs[B].transfer_visible
    reconcile(st)


def test_redirect_falls_back_to_reserve_when_targets_are_full():
    cj, st = two_levels(a_overflow={"mode": "redirect"})
    a, b = st.pools["EUR"][A], st.pools["EUR"][B]
    feed(cj, st, 20)  # A full after 5 bets; B full at 30
    assert a.current_amount == 10 * UNIT and b.current_amount == 30 * UNIT
    assert a.meters.overflow == a.meters.overflow_redirected + a.meters.overflow_reserve
    assert a.carry == a.meters.overflow_reserve > 0
    total_in = sum(p.meters.gross for p in (a, b))
    assert total_in == 20 * 4 * UNIT
    reconcile(st)


def test_redirect_skips_paused_targets():
    cj, st = two_levels(a_overflow={"mode": "redirect"})
    set_level_status(cj, st, B, "PAUSED", actor="op", reason="x", cause_id="c", now=1)
    feed(cj, st, 6)
    a = st.pools["EUR"][A]
    assert a.meters.overflow_redirected == 0 and a.carry == 3 * UNIT


def test_revenue_mode_books_overflow_to_revenue():
    cj, st = two_levels(a_overflow={"mode": "revenue"})
    a = st.pools["EUR"][A]
    feed(cj, st, 6)
    assert a.current_amount == 10 * UNIT and a.carry == 0
    assert a.meters.overflow_revenue == 3 * UNIT == a.meters.overflow
    reconcile(st)


def test_hidden_part_respects_the_ceiling_too():
    cj, st = two_levels(hidden_increment={"enabled": True, "coefficient": "0.25"})
    a = st.pools["EUR"][A]
    feed(cj, st, 8)
    assert a.current_amount == 10 * UNIT
    assert a.visible + a.hidden == 10 * UNIT and a.hidden > 0
    reconcile(st)
