"""Event normalisation and the typed rows each engine event becomes (no database)."""

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from jackpot.sinks.events import AUDITED, ORDER, SQL, from_avro, money, normalise, project

from .scenario import SOLO, run


@pytest.fixture(scope="module")
def scenario():
    return run("5b0e3f0a-0000-4000-8000-000000000001")


def test_money_is_exact_at_scale_six():
    assert money(1) == Decimal("0.000001") and money(-500_000) == Decimal("-0.500000")
    assert money(123_456_789_012) == Decimal("123456.789012")
    assert money(None) is None
    with pytest.raises(TypeError):
        money(1.5)  # type: ignore[arg-type]


def test_every_event_normalises_and_projects(scenario):
    for d in scenario.events:
        e = normalise(d)
        assert e.event_id == d["event_id"] and e.ms == d["timestamp"]
        for key, params in project(e):
            assert key in SQL and key in ORDER
            assert SQL[key].count("$") >= len(params)  # placeholders for every parameter


def rows_of(scenario, key):
    return [p for d in scenario.events for k, p in project(normalise(d)) if k == key]


def test_cycles_carry_the_commitment_then_the_revealed_seed_and_target(scenario):
    started = rows_of(scenario, "cycle_started")
    assert [r[3] for r in started] == [1, 2]
    revealed = rows_of(scenario, "cycle_revealed")
    assert len(revealed) == 1
    r = revealed[0]
    assert r[3] == 1 and r[4] == started[0][4]  # the same commitment
    assert len(r[9]) == 64 and Decimal(10) <= r[10] <= Decimal(12)  # seed hex, win target in range
    assert r[6] == Decimal("1.000000")  # seed draw


def test_wins_prizes_and_payout_states(scenario):
    sel = rows_of(scenario, "win_selected")
    won = rows_of(scenario, "win_won")
    assert len(sel) == 1 and len(won) == 1 and sel[0][0] == won[0][0]
    prizes = rows_of(scenario, "prizes")
    kinds = sorted((p[1], p[2]) for p in prizes)
    assert ("main", 1) in kinds  # from WinnerSelected and again from JackpotWon (same key: one row)
    assert sorted({k for k in kinds if k[0] == "chain_reaction"}) == [
        ("chain_reaction", 1), ("chain_reaction", 2), ("chain_reaction", 3)]
    statuses = [p[8] for p in rows_of(scenario, "prize_status")]
    assert statuses.count("confirmed") == 4
    hits = rows_of(scenario, "hits")
    assert len(hits) == 1 and hits[0][7] == "w" and hits[0][3] == SOLO


def test_adjustments_are_signed_and_operator_actions_recorded(scenario):
    adj = rows_of(scenario, "pool_adjustments")
    assert sorted((a[7], a[6]) for a in adj) == [
        ("MALFUNCTION_CORRECTION", Decimal("-0.500000")), ("OPERATOR_FUNDING", Decimal("1.000000")),
        ("PRE_SEED", Decimal("2.000000"))]
    acts = rows_of(scenario, "operator_actions")
    assert [a[4] for a in acts] == ["manual_adjust"] * 3 and all(a[15] == "applied" for a in acts)


def test_audited_events_cover_the_provably_fair_and_operator_records(scenario):
    types = {d["event_type"] for d in scenario.events}
    assert {"CycleStarted", "CycleRevealed", "WinnerSelected", "OperatorActionRecorded", "PoolAdjusted"} <= types & AUDITED
    assert "PoolUpdated" not in AUDITED


def test_avro_envelope_and_spec_records_become_engine_events():
    eid = uuid.uuid4()
    at = dt.datetime(2026, 11, 22, 1, 2, 3, 456000, tzinfo=dt.timezone.utc)
    env = {"event_id": eid, "event_type": "WarnStateChanged", "event_version": 1, "timestamp": at,
           "jackpot_id": "j", "payload_json": json.dumps({"level_id": "l", "currency": "EUR", "new_state": "hot"})}
    e = normalise(from_avro("JackpotEvent", env))
    assert e.event_id == str(eid) and e.ms == 1_795_309_323_456 and e.payload["new_state"] == "hot"
    pu = {"event_id": str(eid), "timestamp": at, "jackpot_id": "j", "level_id": "l", "currency": "EUR",
          "current_amount": Decimal("12.345678"), "visible_amount": Decimal("12"), "state": "normal", "sequence": 7}
    e = normalise(from_avro("PoolUpdated", pu))
    assert e.event_type == "PoolUpdated" and e.payload["current_amount"] == 12_345_678
    [(key, row)] = project(e)
    assert key == "pool_snapshots" and row[6] == Decimal("12.345678") and row[9] == 7
