"""The audit chain's hashing and verification, on rows in memory."""

from jackpot.sinks.audit import GENESIS, canonical, chain_hash, verify_rows


def chain(n: int, key=None) -> list[dict]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        body = canonical({"n": seq, "amount": seq * 1_000_000})
        h = chain_hash(prev, seq, f"00000000-0000-4000-8000-{seq:012d}", "PoolAdjusted", "j", "op", 1000 + seq, body, key)
        rows.append({"seq": seq, "event_id": f"00000000-0000-4000-8000-{seq:012d}", "event_type": "PoolAdjusted",
                     "jackpot_id": "j", "actor": "op", "occurred_ms": 1000 + seq, "body": body, "prev_hash": prev,
                     "hash": h})
        prev = h
    return rows


def head(rows):
    return (rows[-1]["seq"], rows[-1]["hash"]) if rows else (0, GENESIS)


def test_an_intact_chain_verifies():
    rows = chain(5)
    assert verify_rows(rows, head(rows)).ok
    assert verify_rows([], (0, GENESIS)).ok


def test_a_modified_record_is_detected():
    rows = chain(5)
    h = head(rows)
    rows[2] = dict(rows[2], body=rows[2]["body"].replace("3000000", "9000000"))
    res = verify_rows(rows, h)
    assert not res.ok and any("seq 3: hash mismatch" in p for p in res.problems)


def test_a_deleted_record_is_detected_in_the_middle_and_at_the_end():
    rows = chain(5)
    h = head(rows)
    res = verify_rows(rows[:2] + rows[3:], h)
    assert not res.ok and any("expected seq 3" in p for p in res.problems)
    res = verify_rows(rows[:4], h)
    assert not res.ok and any("head points at seq 5" in p for p in res.problems)


def test_an_inserted_record_is_detected():
    rows = chain(5)
    h = head(rows)
    forged = dict(rows[1], event_id="00000000-0000-4000-8000-999999999999")
    res = verify_rows(rows[:2] + [forged] + rows[2:], h)
    assert not res.ok


def test_a_keyed_chain_cannot_be_recomputed_without_the_key():
    rows = chain(3, key=b"secret")
    assert verify_rows(rows, head(rows), key=b"secret").ok
    assert not verify_rows(rows, head(rows), key=None).ok
    assert not verify_rows(chain(3), head(chain(3)), key=b"secret").ok


def test_canonical_json_is_stable():
    assert canonical({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{"a":[1,{"c":3,"d":2}],"b":1}'
