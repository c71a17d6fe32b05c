"""Engine events in their spec topic's Avro schema: every field the schema names is filled."""

from decimal import Decimal

from jackpot.engine.contribution import apply_contribution
from jackpot.engine.events import POOL_APPROACHING_MAX, WARN_THRESHOLD_REACHED
from jackpot.streams.codec import catalog
from jackpot.streams.outputs import encode

from jackpot.engine.money import MICROS_PER_UNIT as UNIT

from ..engine.helpers import bet, level, lid, setup


def _warn_event():
    lv = [level("Solo", 1, "1", seed_from="1", seed_to="1", win_from="10", win_to="10", win_max="20",
                warn_from="0.6", warn_to="0.85", max_contribution="100")]
    cj, st = setup(levels=lv, contribution_rate="1", house_cut="0")
    for i in range(10):
        r = apply_contribution(cj, st, bet(UNIT, bet_id=f"w{i}"))
        warned = [e for e in r.events if e.event_type == WARN_THRESHOLD_REACHED]
        if warned:
            return warned[0]
    raise AssertionError("the pool never reached its warn threshold")


def test_warn_threshold_reached_goes_out_with_the_configured_range_in_percent():
    event = _warn_event()
    wires = encode(event)
    spec = [w for w in wires if w.topic.name == "warn-threshold-reached"]
    assert len(spec) == 1
    name, rec = catalog().decode(spec[0].value)
    assert name == "WarnThresholdReached"
    assert rec["level_id"] == lid("Solo") and rec["currency"] == "EUR"
    assert (rec["warn_percentage_from"], rec["warn_percentage_to"]) == (Decimal("60.0000"), Decimal("85.0000"))
    assert rec["current_amount"] == Decimal(event.payload["current_amount"]) / 1_000_000
    assert rec["cycle_number"] == 1
    # and whole on the engine-event topic, as the engine made it
    assert [w.topic.name for w in wires] == ["warn-threshold-reached", "jackpot-events"]


def test_pool_approaching_max_goes_out_with_its_percentage_as_a_decimal():
    lv = [level("Solo", 1, "1", seed_from="1", seed_to="1", win_from="100", win_to="100", win_max="100",
                max_contribution="100")]
    cj, st = setup(levels=lv, contribution_rate="1", house_cut="0")
    events = []
    for i in range(3):
        r = apply_contribution(cj, st, bet(45 * UNIT, bet_id=f"m{i}"))
        events += [e for e in r.events if e.event_type == POOL_APPROACHING_MAX]
    assert len(events) == 1
    spec = [w for w in encode(events[0]) if w.topic.name == "pool-approaching-max"]
    name, rec = catalog().decode(spec[0].value)
    assert name == "PoolApproachingMax"
    assert (rec["current_amount"], rec["win_max"]) == (Decimal("91.000000"), Decimal("100.000000"))
    assert rec["percentage_of_max"] == Decimal("91.00")
