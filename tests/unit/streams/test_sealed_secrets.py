"""The jackpot table's secrets are sealed in its values: readable amounts, no win target or seed
in clear, bound to their jackpot, keys that rotate, and a loud failure on the wrong key."""

import json
import os
import stat

import pytest

from jackpot.settings import Settings
from jackpot.tables.jackpots import SEALED, SECRET_POOL_FIELDS, JackpotRecord, decode_record, dump_json, encode_record
from jackpot.tables.sealing import Sealer, SealingError, load_sealer, new_key, parse_key

from .test_table_record import _played

K1, K2 = parse_key(new_key()), parse_key(new_key())


def _record(jackpot_id: str | None = None) -> JackpotRecord:
    p, state = _played(5)
    if jackpot_id:
        state.jackpot_id = jackpot_id
    record = JackpotRecord(p.dump_state(state), bet_marks={"0": 4}, sequence=5)
    record.predraw_seeds([(pool.level_id, pool.currency) for pool in state.iter_pools()])
    return record


def _secrets(record: JackpotRecord) -> list[str]:
    """The record's seeds and the names of its secret fields (a number could also be an amount)."""
    out = list(record.seeds.values()) + [f'"{f}"' for f in SECRET_POOL_FIELDS] + ['"seeds"']
    for by_level in record.state["pools"].values():
        for pool in by_level.values():
            out += [pool["rng_seed"]] if pool["rng_seed"] else []
    return out


def test_the_value_holds_no_secret_in_clear_and_opens_to_the_same_record():
    record = _record()
    assert [p["win_target"] for by in record.state["pools"].values() for p in by.values()] != [0]
    secrets = _secrets(record)
    assert len(secrets) >= len(SECRET_POOL_FIELDS) + 3
    raw = encode_record(record, Sealer(K1))
    for s in secrets:
        assert s.encode() not in raw, s
    readable = json.loads(raw)
    for by_level in readable["state"]["pools"].values():
        for pool in by_level.values():
            assert not set(SECRET_POOL_FIELDS) & set(pool)
            assert pool["visible"] > 0 and pool["meters"]  # the amounts stay readable
    assert "seeds" not in readable
    assert decode_record(raw, Sealer(K1)) == record
    assert encode_record(record, Sealer(K1)) != raw  # a fresh nonce every write


def test_a_sealed_blob_does_not_open_in_another_jackpot():
    a, b = _record("jackpot-a"), _record("jackpot-b")
    sealer = Sealer(K1)
    doc_a, doc_b = json.loads(encode_record(a, sealer)), json.loads(encode_record(b, sealer))
    doc_b[SEALED] = doc_a[SEALED]
    with pytest.raises(SealingError):
        decode_record(dump_json(doc_b), sealer)
    with pytest.raises(SealingError):  # a whole value stored under another jackpot's key
        decode_record(encode_record(a, sealer), sealer, jackpot_id="jackpot-b")
    assert decode_record(encode_record(a, sealer), sealer, jackpot_id="jackpot-a") == a


def test_a_value_written_before_sealing_still_decodes_and_is_sealed_on_its_next_write():
    record = _record()
    old = dump_json(record.to_dict())  # the earlier encoding: secrets in clear
    back = decode_record(old, Sealer(K1))
    assert back == record and back.seeds == record.seeds
    assert SEALED in json.loads(encode_record(back, Sealer(K1)))


def test_a_wrong_key_fails_loudly_and_an_old_key_still_opens_after_a_rotation():
    record = _record()
    raw = encode_record(record, Sealer(K1))
    with pytest.raises(SealingError, match="neither"):
        decode_record(raw, Sealer(K2))
    assert decode_record(raw, Sealer(K2, [K1])) == record  # rotated: K1 accepted on read
    doc = json.loads(raw)
    kid, body = doc[SEALED].split(".")
    doc[SEALED] = f"{kid}.{body[:-8]}AAAAAAA="  # tampered
    with pytest.raises(SealingError):
        decode_record(dump_json(doc), Sealer(K1))
    doc[SEALED] = f"{Sealer(K2).kid}.{body}"  # right key id claimed, wrong key
    with pytest.raises(SealingError):
        decode_record(dump_json(doc), Sealer(K2))


def test_production_refuses_to_run_without_a_key_and_development_generates_one_once(tmp_path):
    with pytest.raises(SealingError, match="required in production"):
        load_sealer(Settings(JACKPOT_ENV="production", JACKPOT_STACK_DIR=tmp_path))
    dev = Settings(JACKPOT_STACK_DIR=tmp_path / "stack")
    first = load_sealer(dev)
    [keyfile] = (tmp_path / "stack").iterdir()
    assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
    assert load_sealer(dev).kid == first.kid  # reused: every local process agrees
    configured = load_sealer(Settings(JACKPOT_ENV="production", JACKPOT_STATE_KEY=new_key(),
                                      JACKPOT_STATE_OLD_KEYS=keyfile.read_text().strip()))
    raw = encode_record(_record(), first)
    assert decode_record(raw, configured).sequence == 5  # the dev key, rotated into an old key
    with pytest.raises(SealingError, match="32 bytes"):
        load_sealer(Settings(JACKPOT_STATE_KEY="c2hvcnQ="))
