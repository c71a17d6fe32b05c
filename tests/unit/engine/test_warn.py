"""Warn states (Calm / Heating / On Fire / Must Drop), their randomised thresholds and events."""

from jackpot.engine.events import CYCLE_REVEALED, WARN_STATE_CHANGED, WARN_THRESHOLD_REACHED
from jackpot.engine.rng import CycleContext, DrawRanges, rederive_cycle
from jackpot.engine.warn import CALM, warn_state, ticker_smoothing

from .flow import SOLO, UNIT, solo
from .helpers import setup
from .flow import solo_level


def transitions(d, out=None):
    return [(e.payload["old_state"], e.payload["new_state"]) for e in d.of(WARN_STATE_CHANGED, out)]


def test_states_progress_with_the_amount_and_reset_on_reseed():
    d = solo({"win_from": "50", "win_to": "50", "win_max": "100", "warn_from": "0.5", "warn_to": "0.6"},
             drop_mode="must_drop")
    p = d.pool()
    assert 25 * UNIT <= p.warn_threshold <= 30 * UNIT
    assert p.warn_threshold <= p.fire_threshold <= p.win_target
    entered = {}
    while p.current_amount < 95 * UNIT and not p.locked:
        before = p.current_amount
        d.bet(1, "p1", self_excluded=True)  # never wins
        entered.setdefault(warn_state(p.flags), (before, p.current_amount))
    assert transitions(d) == [("calm", "heating"), ("heating", "on_fire"), ("on_fire", "must_drop")]
    # each state entered by the bet that crossed its threshold
    for state, at in (("heating", p.warn_threshold), ("on_fire", p.fire_threshold), ("must_drop", 90 * UNIT)):
        before, after = entered[state]
        assert before < at <= after, state
    assert len(d.of(WARN_THRESHOLD_REACHED)) == 1  # the spec event, once, at Heating
    d.bet(0.01, "p2")  # past 95%: any small bet of an eligible player drops it
    assert p.locked
    d.wallet(d.credits()[-1])
    assert d.pool().cycle == 2 and warn_state(d.pool().flags) == CALM


def test_range_mode_never_shows_must_drop_by_amount():
    d = solo()
    for _ in range(25):
        d.bet(1, "p1", self_excluded=True)
    assert d.pool().current_amount == 20 * UNIT
    assert transitions(d) == [("calm", "heating"), ("heating", "on_fire")]


def test_jump_over_several_thresholds_publishes_each_state_in_order():
    d = solo({"win_from": "50", "win_to": "50", "win_max": "100"}, drop_mode="must_drop")
    d.bet(95, "p1", self_excluded=True)
    assert transitions(d) == [("calm", "heating"), ("heating", "on_fire"), ("on_fire", "must_drop")]


def test_thresholds_are_randomised_per_cycle_and_revealed():
    warns, fires = set(), set()
    for m in range(20):
        cj, st = setup(master=bytes([m + 1]) * 8, contribution_rate="1", house_cut="0",
                       levels=[solo_level(win_from="100", win_to="200", win_max="300", warn_from="0.5", warn_to="0.9")])
        p = st.pools["EUR"][SOLO]
        assert p.win_target * 5 // 10 <= p.warn_threshold <= p.win_target * 9 // 10 + 1
        assert p.warn_threshold <= p.fire_threshold <= p.win_target
        warns.add(p.warn_threshold)
        fires.add(p.fire_threshold)
    assert len(warns) == 20 and len(fires) == 20
    # the reveal re-derives the fire threshold too
    d = solo()
    p = d.pool()
    commitment, fire = p.commitment, p.fire_threshold
    d.bet(0.01, "p1")
    out = d.command("force_drop", level_id=SOLO, currency="EUR")
    d.wallet(d.credits(out)[0])
    rev = [e for e in d.events if e.event_type == CYCLE_REVEALED][0].payload
    again = rederive_cycle(rev["seed"], commitment, CycleContext(d.cj.jackpot_id, SOLO, "EUR", 1), DrawRanges.from_dict(rev["ranges"]))
    assert again.fire_threshold == fire == rev["fire_threshold"]


def test_warn_events_never_carry_the_drawn_thresholds():
    d = solo()
    for _ in range(15):
        d.bet(1, "p1", self_excluded=True)
    p = d.pool()
    for e in d.of(WARN_STATE_CHANGED) + d.of(WARN_THRESHOLD_REACHED):
        body = str(e.payload)
        assert str(p.warn_threshold) not in body and str(p.fire_threshold) not in body and str(p.win_target) not in body


def test_ticker_smoothing_parameters_are_data_for_the_gateway():
    d = solo()
    assert ticker_smoothing(d.cj) == {"lag_min_ms": 200, "lag_max_ms": 800, "round_to": 10_000}
    d2 = solo(ticker={"lag_min_ms": 300, "lag_max_ms": 500, "round_to": "1"})
    assert ticker_smoothing(d2.cj) == {"lag_min_ms": 300, "lag_max_ms": 500, "round_to": UNIT}
