import copy

import pytest

from jackpot.engine import (
    Bet,
    Outcome,
    Reason,
    apply_batch,
    apply_contribution,
    compile_jackpot,
    new_jackpot_state,
    pause,
    reconcile,
    resume,
    set_level_status,
)
from jackpot.engine.events import CONTRIBUTION_REJECTED, POOL_UPDATED, event_id

from .helpers import BRAND, bet, classic_levels, level, lid, make_jackpot, setup

GRAND, MAJOR, MINOR, MINI = lid("Grand"), lid("Major"), lid("Minor"), lid("Mini")


def amounts(state, currency="EUR"):
    return {k: (p.visible, p.hidden) for k, p in state.pools[currency].items()}


def test_spec_example_through_the_pipeline():
    """EUR 2.00 x 1.5% x 1.2 = 0.036 gross; 0.0324 net; 0.0036 house; split 40/25/20/15."""
    cj, st = setup()
    before = amounts(st)
    r = apply_contribution(cj, st, bet(2_000_000, game="g12"))
    assert r.outcome == Outcome.APPLIED and r.reason is None
    assert (r.gross, r.house_cut, r.net) == (36_000, 3_600, 32_400)
    by = {lc.level_id: lc for lc in r.levels}
    assert [by[x].net for x in (GRAND, MAJOR, MINOR, MINI)] == [12_960, 8_100, 6_480, 4_860]
    assert [by[x].house_cut for x in (GRAND, MAJOR, MINOR, MINI)] == [1_440, 900, 720, 540]
    assert [by[x].gross for x in (GRAND, MAJOR, MINOR, MINI)] == [14_400, 9_000, 7_200, 5_400]
    after = amounts(st)
    for x, lc in by.items():
        assert after[x][0] - before[x][0] == lc.visible == lc.net  # no hidden increment here
    assert st.pools["USD"][GRAND].meters.bets == 0  # separate pool per currency
    reconcile(st)


@pytest.mark.parametrize(
    "bet_amount, expected",
    [(1_000_000, [6_000, 3_750, 3_000, 2_250]), (10_000_000, [60_000, 37_500, 30_000, 22_500])],
)
def test_spec_split_table_through_the_pipeline(bet_amount, expected):
    """1.5% rate, no house cut, coefficient 1.0: EUR 1.00 -> 0.0060/0.00375/0.0030/0.00225."""
    cj, st = setup(house_cut="0")
    r = apply_contribution(cj, st, bet(bet_amount, game="g1"))
    assert r.house_cut == 0 and r.net == r.gross == sum(expected)
    assert [lc.visible for lc in r.levels] == expected


def test_remainders_go_to_the_largest_remainder_then_the_top_level():
    cj, st = setup(house_cut="0")
    # 100 micros bet at 1.5% -> gross 1 micro; Grand has the largest share
    r = apply_contribution(cj, st, bet(100, game="g1"))
    assert r.gross == 1 and [lc.net for lc in r.levels] == [1, 0, 0, 0]
    r = apply_contribution(cj, st, bet(200, game="g1"))  # 3 micros: 1.2 / .75 / .6 / .45
    assert [lc.net for lc in r.levels] == [1, 1, 1, 0]


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"game": "unknown"}, Reason.GAME_NOT_ELIGIBLE),
        ({"bet_type": "bonus"}, Reason.BET_TYPE_NOT_ACCEPTED),
        ({"brand": "other-brand"}, Reason.BRAND_NOT_ELIGIBLE),
        ({"currency": "GBP"}, Reason.CURRENCY_NOT_SUPPORTED),
        ({"player_excluded": True}, Reason.PLAYER_EXCLUDED),
        ({"amount": 0}, Reason.INVALID_AMOUNT),
        ({"amount": -5}, Reason.INVALID_AMOUNT),
    ],
)
def test_ineligible_bets_are_discarded_without_any_change(kwargs, reason):
    cj, st = setup()
    before = copy.deepcopy(st.to_dict())
    r = apply_contribution(cj, st, bet(**kwargs))
    assert r.outcome == Outcome.DISCARDED and r.reason == reason and r.detail
    assert not r.applied and r.events == [] and r.levels == ()
    assert st.to_dict() == before


def test_bonus_bets_when_the_jackpot_accepts_them():
    cj, st = setup(accepted_bet_types=["real", "bonus"])
    assert apply_contribution(cj, st, bet(bet_type="bonus")).outcome == Outcome.APPLIED


def test_float_amounts_are_refused():
    cj, st = setup()
    r = apply_contribution(cj, st, bet(amount=2.0))  # type: ignore[arg-type]
    assert r.reason == Reason.INVALID_AMOUNT


def test_draft_and_expired_jackpots_take_no_contributions():
    cj = compile_jackpot(make_jackpot())
    st = new_jackpot_state(cj)
    r = apply_contribution(cj, st, bet())
    assert r.outcome == Outcome.DISCARDED and r.reason == Reason.JACKPOT_NOT_ACCEPTING and "DRAFT" in r.detail


def test_zero_coefficient_game_participates_without_contributing():
    cj, st = setup()
    r = apply_contribution(cj, st, bet(5_000_000, game="g0"))
    assert r.outcome == Outcome.APPLIED and r.reason == Reason.ZERO_CONTRIBUTION
    assert r.gross == 0 and all(lc.net == 0 for lc in r.levels)
    assert r.game_trigger_eligible is False
    assert st.pools["EUR"][GRAND].meters.wagers == 5_000_000  # a qualifying wager all the same


def test_contribution_does_not_require_win_eligibility():
    """A bet below min_bet still feeds the pool; only win eligibility checks min_bet."""
    cj, st = setup(levels=classic_levels(min_bet="0.50"))
    r = apply_contribution(cj, st, bet(200_000, game="g1"))  # EUR 0.20
    assert r.outcome == Outcome.APPLIED and r.levels[0].net == 1_080
    assert r.game_trigger_eligible is True


def test_hidden_increment_goes_to_the_reserve():
    lv = classic_levels()
    lv[0]["hidden_increment"] = {"enabled": True, "coefficient": "0.10"}
    cj, st = setup(levels=lv)
    g0 = st.pools["EUR"][GRAND]
    v0, cur0 = g0.visible, g0.current_amount
    r = apply_contribution(cj, st, bet(2_000_000, game="g12"))
    grand = r.levels[0]
    assert (grand.net, grand.hidden, grand.visible) == (12_960, 1_296, 11_664)
    assert g0.visible - v0 == 11_664  # visible portion to visible_amount
    assert g0.current_amount - cur0 == 12_960  # full portion to current_amount
    assert g0.reserve == 1_296


def test_hidden_part_is_rounded_down():
    lv = classic_levels()
    lv[0]["hidden_increment"] = {"enabled": True, "coefficient": "0.333"}
    cj, st = setup(levels=lv)
    grand = apply_contribution(cj, st, bet(2_000_000, game="g12")).levels[0]
    # 12960 x 0.333 = 4315.68 -> 4315 hidden, 8645 visible
    assert (grand.net, grand.hidden, grand.visible) == (12_960, 4_315, 8_645)


def test_pool_updated_event_and_deterministic_ids():
    cj, st = setup()
    _, st2 = setup()
    b = bet(bet_id="bet-xyz", ts=5_000)
    r1 = apply_contribution(cj, st, b)
    r2 = apply_contribution(cj, st2, b)
    assert [e.event_id for e in r1.events] == [e.event_id for e in r2.events]
    assert [e.to_dict() for e in r1.events] == [e.to_dict() for e in r2.events]
    ev = [e for e in r1.events if e.event_type == POOL_UPDATED and e.payload["level_id"] == GRAND][0]
    pool = st.pools["EUR"][GRAND]
    assert ev.event_id == event_id(POOL_UPDATED, cj.jackpot_id, GRAND, "EUR", "bet-xyz")
    assert ev.timestamp == 5_000 and ev.event_version == 1
    assert ev.payload == {
        "jackpot_id": cj.jackpot_id,
        "level_id": GRAND,
        "currency": "EUR",
        "current_amount": pool.current_amount,
        "visible_amount": pool.visible,
        "state": "normal",
        "cycle_number": 1,
        "timestamp": 5_000,
    }
    r3 = apply_contribution(cj, st, bet(bet_id="bet-other"))
    assert not {e.event_id for e in r3.events} & {e.event_id for e in r1.events}


def test_single_contribution_bound_rejects_the_whole_bet():
    lv = classic_levels()
    lv[3]["max_contribution"] = "0.01"  # Mini: at most 1 cent per bet
    cj, st = setup(levels=lv)
    before = copy.deepcopy(st.to_dict())
    ok = apply_contribution(cj, st, bet(1_000_000))  # Mini gets 0.0020
    assert ok.outcome == Outcome.APPLIED
    before = copy.deepcopy(st.to_dict())
    r = apply_contribution(cj, st, bet(10_000_000, bet_id="huge"))  # Mini would get 0.02025
    assert r.outcome == Outcome.REJECTED and r.reason == Reason.CONTRIBUTION_EXCEEDS_BOUND
    assert "exceeds the single-contribution bound 10000 micros" in r.detail
    assert st.to_dict() == before  # nothing applied, not even to the other levels
    assert [e.event_type for e in r.events] == [CONTRIBUTION_REJECTED]
    assert r.events[0].payload["bound"] == 10_000


def test_trigger_hand_off_lists_pools_at_or_above_target():
    lv = [level("Solo", 1, "1", seed_from="1", seed_to="1", win_from="2", win_to="2", win_max="10")]
    cj, st = setup(levels=lv, contribution_rate="0.5", house_cut="0")
    r = apply_contribution(cj, st, bet(1_000_000))
    assert r.trigger_candidates == ()
    r = apply_contribution(cj, st, bet(1_000_000))
    assert st.pools["EUR"][lid("Solo")].current_amount == 2_000_000
    assert r.trigger_candidates == (lid("Solo"),)
    # NO_WIN levels grow but are never handed to the trigger stage
    set_level_status(cj, st, lid("Solo"), "NO_WIN", actor="op", reason="test", cause_id="c1", now=3)
    r = apply_contribution(cj, st, bet(1_000_000))
    assert r.outcome == Outcome.APPLIED and r.trigger_candidates == ()


def test_pause_buffers_and_resume_applies():
    cj, st = setup()
    _, ref = setup()
    pause(cj, st, actor="op", reason="maintenance", cause_id="p1", now=10)
    shown = amounts(st)
    bets = [bet(3_000_000, game="g12", bet_id=f"pb{i}") for i in range(5)]
    for b in bets:
        r = apply_contribution(cj, st, b)
        assert r.outcome == Outcome.BUFFERED and r.reason == Reason.JACKPOT_PAUSED
        assert r.trigger_candidates == ()
        assert all(lc.pending == lc.net for lc in r.levels)
        assert not [e for e in r.events if e.event_type == POOL_UPDATED]
    assert amounts(st) == shown  # display frozen
    reconcile(st)
    ev = resume(cj, st, actor="op", reason="done", cause_id="r1", now=20)
    assert any(e.event_type == POOL_UPDATED for e in ev)
    for b in bets:
        apply_contribution(cj, ref, b)
    assert amounts(st) == amounts(ref)
    assert all(p.pending == 0 for p in st.iter_pools())
    assert st.pools["EUR"][GRAND].cycle_contributions == ref.pools["EUR"][GRAND].cycle_contributions
    reconcile(st)


def test_paused_level_holds_only_its_share():
    cj, st = setup()
    set_level_status(cj, st, MAJOR, "PAUSED", actor="op", reason="check", cause_id="c1", now=5)
    r = apply_contribution(cj, st, bet(2_000_000, game="g12"))
    by = {lc.level_id: lc for lc in r.levels}
    assert by[MAJOR].pending == 8_100 and by[MAJOR].visible == 0
    assert by[GRAND].visible == 12_960
    assert st.pools["EUR"][MAJOR].pending == 8_100
    major_before = st.pools["EUR"][MAJOR].visible
    set_level_status(cj, st, MAJOR, "ENABLED", actor="op", reason="ok", cause_id="c2", now=6)
    assert st.pools["EUR"][MAJOR].visible == major_before + 8_100
    assert st.pools["EUR"][MAJOR].pending == 0
    reconcile(st)


def test_disabled_level_share_goes_to_the_other_levels():
    cj, st = setup()
    set_level_status(cj, st, MINI, "DISABLED", actor="op", reason="retired", cause_id="c1", now=5)
    r = apply_contribution(cj, st, bet(2_000_000, game="g12"))
    by = {lc.level_id: lc for lc in r.levels}
    assert by[MINI].net == 0
    # 32400 over 40:25:20 (of 85) = 15247.06, 9529.41, 7623.53 -> largest remainder
    assert [by[x].net for x in (GRAND, MAJOR, MINOR)] == [15_247, 9_529, 7_624]
    assert sum(lc.net for lc in r.levels) == 32_400
    assert sum(lc.house_cut for lc in r.levels) == 3_600


def test_every_level_disabled_discards():
    lv = [level("Solo", 1, "1")]
    cj, st = setup(levels=lv)
    set_level_status(cj, st, lid("Solo"), "DISABLED", actor="op", reason="off", cause_id="c1", now=5)
    r = apply_contribution(cj, st, bet())
    assert r.outcome == Outcome.DISCARDED and r.reason == Reason.NO_RECEIVING_LEVEL


def test_batch_coalesces_pool_updates():
    cj, st = setup()
    _, ref = setup()
    bets = [bet(1_000_000, bet_id=f"b{i}", ts=100 + i) for i in range(3)] + [bet(game="nope", bet_id="bx")]
    br = apply_batch(cj, st, bets)
    assert [r.outcome for r in br.results] == ["applied"] * 3 + ["discarded"]
    updates = [e for e in br.events if e.event_type == POOL_UPDATED]
    assert len(updates) == 4  # one per touched pool, not one per bet
    assert {e.payload["level_id"] for e in updates} == {GRAND, MAJOR, MINOR, MINI}
    assert all(e.timestamp == 102 for e in updates)
    assert all(e.event_id == event_id(POOL_UPDATED, cj.jackpot_id, e.payload["level_id"], "EUR", "b2") for e in updates)
    assert not any(e.event_type == POOL_UPDATED for r in br.results for e in r.events)
    for b in bets:
        apply_contribution(cj, ref, b)
    assert st.to_dict() == ref.to_dict()  # batching changes events, never amounts


def test_bet_dict_round_trip():
    b = Bet("b1", "p1", "g1", BRAND, "EUR", 2_000_000, "real", "s1", 123)
    assert Bet.from_dict(b.to_dict()) == b
    assert Bet.from_dict({**b.to_dict(), "player_excluded": True}).player_excluded


def test_result_serialises_to_plain_json():
    import json

    cj, st = setup()
    r = apply_contribution(cj, st, bet(2_000_000, game="g12"))
    d = json.loads(json.dumps(r.to_dict()))
    assert d == r.to_dict()
    assert d["levels"][0]["net"] == 12_960
