"""The jackpot table's value: encoded once per checkpoint, read back exactly by any reader."""

import json

from jackpot.engine.lifecycle import activate
from jackpot.engine.rng import master_seed_source
from jackpot.streams.pipeline import Pipeline
from jackpot.tables.jackpots import SECRET_POOL_FIELDS, JackpotRecord, decode_record, encode_record

from .test_pipeline import _doc, _request


def _played(bets: int = 30):
    doc = _doc()
    p = Pipeline()
    cj = p.compile(doc)
    state = p.draft_state(cj)
    activate(cj, state, master_seed_source(b"k" * 32), actor="system", cause_id="a", now=0)
    for n in range(bets):
        req = dict(_request(doc, "0.10", n), player_id=f"p{n % 7}")
        p.evaluate(cj, state, req, p.contribute(cj, state, req), None)
    return p, state


def test_a_checkpoint_is_the_state_at_that_moment_even_when_it_shares_the_player_records():
    p, state = _played()
    record = JackpotRecord(p.dump_state(state, share=True), bet_marks={"0": 29}, sequence=30, seeds={"a|EUR": "00"})
    raw = encode_record(record)
    before = p.dump_state(state)
    state.activity["EUR"]["p1"][3] = 123_456  # a later bet changes a shared record in place...
    back = decode_record(raw)
    assert back.state == before != p.dump_state(state)  # ...but not the bytes already encoded
    assert (back.bet_marks, back.sequence, back.seeds) == ({"0": 29}, 30, {"a|EUR": "00"})
    readable = json.loads(raw)  # plain JSON: the reconciler reads the amounts and marks with json
    assert readable["state"]["pools"]["EUR"] == {
        lid: {k: v for k, v in pool.items() if k not in SECRET_POOL_FIELDS}
        for lid, pool in back.to_dict()["state"]["pools"]["EUR"].items()}
    assert (readable["bet_marks"], readable["sequence"]) == ({"0": 29}, 30)


def test_values_beyond_64_bits_and_older_dict_values_still_round_trip():
    p, state = _played(3)
    record = JackpotRecord(p.dump_state(state), sequence=2**70)
    assert decode_record(encode_record(record)).sequence == 2**70
    assert decode_record(record.to_dict()) == record


def test_the_engine_clock_travels_with_the_value_and_older_values_start_from_none():
    """A replay resumes at the time of the value's last input, whatever batch it starts in."""
    p, state = _played(3)
    record = JackpotRecord(p.dump_state(state), sequence=3, clock=1_796_618_215_723)
    assert decode_record(encode_record(record)).clock == 1_796_618_215_723
    legacy = {k: v for k, v in record.to_dict().items() if k != "clock"}
    assert decode_record(legacy).clock == 0
