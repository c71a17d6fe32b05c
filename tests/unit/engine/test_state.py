"""State serialises to plain JSON-compatible dicts and back, exactly (changelog table values)."""

import copy
import json

import pytest

from jackpot.engine import JackpotState, Winner, apply_contribution, begin_drop, pause, set_level_status, settle_drop
from jackpot.engine.rng import master_seed_source

from .helpers import MASTER, bet, lid, setup

GRAND, MAJOR = lid("Grand"), lid("Major")


def walk(v, path="$"):
    """Only dict / list / str / int / bool / None; no floats anywhere."""
    if isinstance(v, dict):
        for k, x in v.items():
            assert isinstance(k, str), path
            walk(x, f"{path}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, f"{path}[{i}]")
    else:
        assert v is None or type(v) in (str, int, bool), f"{path}: {type(v).__name__}"


def busy_state():
    cj, st = setup()
    seeds = master_seed_source(MASTER)
    for i in range(20):
        apply_contribution(cj, st, bet(3_000_000, game="g12", bet_id=f"s{i}", currency="EUR" if i % 3 else "USD"))
    for i in range(3):
        begin_drop(cj, st, GRAND, "EUR", cause_id=f"d{i}", now=10 + i)
        settle_drop(cj, st, GRAND, "EUR", Winner(f"p{i}", "g1", "brand-1", f"t{i}"),
                    next_seed=seeds(GRAND, "EUR", st.pools["EUR"][GRAND].cycle + 1), cause_id=f"s{i}", now=20 + i)
    set_level_status(cj, st, MAJOR, "PAUSED", actor="op", reason="x", cause_id="c", now=30)
    apply_contribution(cj, st, bet(3_000_000))  # leaves pending on Major
    begin_drop(cj, st, lid("Minor"), "USD", cause_id="dl", now=31)  # a locked pool
    st.offsets["bets:3"] = 12345
    return cj, st


def test_round_trip_is_exact_and_json_compatible():
    cj, st = busy_state()
    d = st.to_dict()
    walk(d)
    text = json.dumps(d, sort_keys=True)
    back = JackpotState.from_dict(json.loads(text))
    assert back.to_dict() == d
    assert json.dumps(back.to_dict(), sort_keys=True) == text
    assert back == st  # dataclass equality, field by field
    assert d["pools"]["EUR"][GRAND]["meters"]["hits"] == 3
    assert d["pools"]["USD"][lid("Minor")]["locked"] is True
    assert d["pools"]["EUR"][MAJOR]["pending"] > 0
    assert len(text) < 20_000  # compact: one table value per jackpot


def test_a_restored_state_continues_identically():
    cj, st = busy_state()
    restored = JackpotState.from_dict(json.loads(json.dumps(st.to_dict())))
    for i in range(30):
        b = bet(1_500_000 + i, game="g2", bet_id=f"n{i}")
        r1, r2 = apply_contribution(cj, st, b), apply_contribution(cj, restored, b)
        assert r1.to_dict() == r2.to_dict()
    assert st.to_dict() == restored.to_dict()


def test_unknown_version_is_refused():
    cj, st = setup()
    d = copy.deepcopy(st.to_dict())
    d["v"] = 99
    with pytest.raises(ValueError, match="unsupported jackpot state version 99"):
        JackpotState.from_dict(d)


def test_paused_state_round_trips():
    cj, st = setup()
    pause(cj, st, actor="op", reason="x", cause_id="p", now=1)
    apply_contribution(cj, st, bet())
    assert JackpotState.from_dict(st.to_dict()).to_dict() == st.to_dict()


def test_pool_state_has_the_spec_fields():
    cj, st = busy_state()
    p = st.pools["EUR"][GRAND]
    assert p.current_amount == p.visible_amount + p.hidden
    assert p.visible_amount == p.visible and p.cycle_number == p.cycle == 4
    assert p.seed_amount > 0 and p.win_target > 0
    assert p.cycle_contributions >= 0 and p.total_contributions == p.meters.gross - p.meters.house
