"""The audit chain's key policy, hash formats and checkpoints, without the stack."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
import yaml

from jackpot.settings import REPO_ROOT, Settings
from jackpot.sinks.audit import (GENESIS, AuditKeyError, Checkpoint, canonical, chain_hash, key_problem, require_key,
                                 verify_rows)

STRONG = "kqV3bV0o1n8bZ2m5Hc9yXQe7LrT4uWfA6dGs1pJ0hNk="  # what `openssl rand -base64 32` looks like


def example_key() -> str:
    """The value the Secret example ships with: it must be refused."""
    docs = yaml.safe_load_all((REPO_ROOT / "ops" / "k8s" / "secret.example.yaml").read_text())
    [key] = {d["stringData"]["JACKPOT_AUDIT_KEY"] for d in docs if "JACKPOT_AUDIT_KEY" in d.get("stringData", {})}
    return key


# ------------------------------------------------------------------ key policy
@pytest.mark.parametrize("key", ["", "CHANGE-ME", "short-but-random-Zq8", "a" * 64, "0123456789" * 4,
                                 "abcdefghijklmnopqrstuvwxyz0123456789", "change-me-" + STRONG, "my-secret-" + STRONG])
def test_weak_keys_are_named_weak(key):
    assert key_problem(key)


def test_the_example_key_is_weak_and_a_generated_one_is_not():
    assert key_problem(example_key())
    assert key_problem(STRONG) is None
    assert key_problem(os.urandom(32).hex()) is None


@pytest.mark.parametrize("key", ["", "CHANGE-ME", "too-short-key"])
def test_production_refuses_to_start_without_a_strong_key(key):
    with pytest.raises(AuditKeyError, match="JACKPOT_AUDIT_KEY"):
        require_key(Settings(JACKPOT_ENV="production", JACKPOT_AUDIT_KEY=key))
    with pytest.raises(AuditKeyError, match="openssl rand"):
        require_key(Settings(JACKPOT_ENV="production", JACKPOT_AUDIT_KEY=example_key()))
    assert require_key(Settings(JACKPOT_ENV="production", JACKPOT_AUDIT_KEY=STRONG)) == STRONG.encode()


def test_development_warns_and_goes_on(caplog, monkeypatch):
    from jackpot.sinks import audit

    monkeypatch.setattr(audit, "_warned", set())  # once per process: forget earlier tests' warnings
    with caplog.at_level("WARNING", logger="jackpot.sinks.audit"):
        assert require_key(Settings(JACKPOT_ENV="development", JACKPOT_AUDIT_KEY="")) is None
    assert any("weak audit key" in r.getMessage() for r in caplog.records)


def test_the_admin_api_refuses_to_start_in_production_without_a_key():
    from jackpot.gateway.admin.app import create_admin_app

    with pytest.raises(AuditKeyError):
        create_admin_app(Settings(JACKPOT_ENV="production", JACKPOT_AUDIT_KEY=""))


@pytest.mark.parametrize("key", [None, "example"])
def test_a_production_sinks_process_exits_before_touching_anything(key):
    """`jackpot sinks` in production with no key / the example key: exit 1 with the reason. The
    broker and database addresses lead nowhere, so only the key check can produce that message."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JACKPOT_", "KAFKA_", "DATABASE_", "REDIS_"))}
    env.update(JACKPOT_ENV="production", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
               DATABASE_URL="postgresql://nobody@127.0.0.1:9/none", REDIS_URL="redis://127.0.0.1:9/0")
    if key:
        env["JACKPOT_AUDIT_KEY"] = example_key()
    res = subprocess.run([sys.executable, "-m", "jackpot.cli", "sinks"], env=env, capture_output=True, text=True,
                         timeout=60, cwd=REPO_ROOT)
    assert res.returncode == 1, res.stderr
    assert "refusing to start in production" in res.stderr and "JACKPOT_AUDIT_KEY" in res.stderr, res.stderr


# ------------------------------------------------------------------ formats
def test_format_2_keeps_a_separator_inside_its_field():
    """Format 1 hashed jackpot "j|x" by "op" like jackpot "j" by "x|op"; format 2 does not."""
    args = ("0" * 64, 1, "00000000-0000-4000-8000-000000000001", "AdminAction")
    a = dict(jackpot_id="j|x", actor="op")
    b = dict(jackpot_id="j", actor="x|op")
    assert chain_hash(*args, **a, occurred_ms=1, body="{}", fmt=1) == chain_hash(*args, **b, occurred_ms=1, body="{}",
                                                                                 fmt=1)
    assert chain_hash(*args, **a, occurred_ms=1, body="{}", fmt=2) != chain_hash(*args, **b, occurred_ms=1, body="{}",
                                                                                 fmt=2)


def chain(formats: list[int], key=None) -> list[dict]:
    rows, prev = [], GENESIS
    for seq, fmt in enumerate(formats, 1):
        r = {"seq": seq, "event_id": f"00000000-0000-4000-8000-{seq:012d}", "event_type": "PoolAdjusted",
             "jackpot_id": "j", "actor": "op", "occurred_ms": 1000 + seq, "body": canonical({"n": seq}),
             "prev_hash": prev, "format": fmt}
        r["hash"] = chain_hash(prev, seq, r["event_id"], "PoolAdjusted", "j", "op", 1000 + seq, r["body"], key, fmt=fmt)
        rows.append(r)
        prev = r["hash"]
    return rows


def head(rows):
    return rows[-1]["seq"], rows[-1]["hash"]


def test_old_format_rows_verify_and_a_downgrade_is_refused():
    rows = chain([1, 1, 2, 2])
    assert verify_rows(rows, head(rows)).ok
    rows = chain([1, 2, 1, 2])
    res = verify_rows(rows, head(rows))
    assert [p for p in res.problems] == ["seq 3: format 1 record after a format 2 record "
                                         "(a downgrade to the older hash format)"]


def test_a_moved_separator_in_a_format_2_row_is_a_hash_mismatch():
    rows = chain([2, 2])
    rows[0] = dict(rows[0], jackpot_id="j|x", actor="op")
    rows[0]["hash"] = chain_hash(GENESIS, 1, rows[0]["event_id"], "PoolAdjusted", "j|x", "op", 1001, rows[0]["body"],
                                 fmt=2)
    rows[1] = chain([2, 2])[1]
    rows[1] = dict(rows[1], prev_hash=rows[0]["hash"])
    rows[1]["hash"] = chain_hash(rows[0]["hash"], 2, rows[1]["event_id"], "PoolAdjusted", "j", "op", 1002,
                                 rows[1]["body"], fmt=2)
    assert verify_rows(rows, head(rows)).ok
    rows[0] = dict(rows[0], jackpot_id="j", actor="x|op")
    res = verify_rows(rows, head(rows))
    assert res.problems == ["seq 1: hash mismatch (the record was modified)"]


# ------------------------------------------------------------------ checkpoints
KEY = STRONG.encode()


def test_checkpoints_pin_the_chain():
    rows = chain([2] * 5, KEY)
    cps = [Checkpoint(r["seq"], r["hash"], 1_790_000_000_000 + r["seq"]).signed(KEY) for r in rows[2:]]
    res = verify_rows(rows, head(rows), KEY, checkpoints=cps)
    assert res.ok and res.checkpoints == 3 and res.newest_checkpoint == 5
    # the tail cut and the head moved back: only the checkpoints show it
    cut = rows[:3]
    assert verify_rows(cut, head(cut), KEY).ok
    res = verify_rows(cut, head(cut), KEY, checkpoints=cps + cps)  # each published twice
    assert res.problems == ["checkpoint seq 5 of 2026-09-21T14:13:20.005+00:00: the chain ends at seq 3 "
                            "(records removed from the end; 1 earlier checkpoint(s) past the end too)"]


def test_a_checkpoint_with_a_bad_signature_is_a_problem():
    rows = chain([2] * 3, KEY)
    good = Checkpoint(3, rows[2]["hash"], 1).signed(KEY)
    assert good.signature_ok(KEY) and not good.signature_ok(b"another key of at least 32 bytes!!")
    forged = dataclasses.replace(good, seq=2)  # the signature of another checkpoint
    res = verify_rows(rows, head(rows), KEY, checkpoints=[good, forged])
    assert res.problems == ["checkpoint seq 2 of 1970-01-01T00:00:00.001+00:00: bad signature "
                            "(forged or altered, or signed with another key)"]
    res = verify_rows(rows, head(rows), KEY, checkpoints=[dataclasses.replace(good, sig=None)])
    assert len(res.problems) == 1 and "unsigned" in res.problems[0]


def test_unsigned_checkpoints_without_a_key_are_still_held_to_the_chain():
    rows = chain([2] * 3)
    cp = Checkpoint(2, rows[1]["hash"], 1).signed(None)
    assert cp.sig is None and verify_rows(rows, head(rows), checkpoints=[cp]).ok
    other = dataclasses.replace(cp, hash="f" * 64)
    res = verify_rows(rows, head(rows), checkpoints=[other])
    assert len(res.problems) == 1 and "the chain was rewritten" in res.problems[0]


def test_checkpoint_json_round_trip_and_refusals():
    cp = Checkpoint(7, "a" * 64, 1_790_000_000_123).signed(KEY)
    back = Checkpoint.from_json(cp.to_json(), "f:1")
    assert back == cp and back.source == "f:1" and back.signature_ok(KEY)
    for bad in ("", "{}", '{"seq": "7", "hash": "' + "a" * 64 + '", "time_ms": 1}',
                '{"seq": 7, "hash": "short", "time_ms": 1}', "[1, 2]"):
        with pytest.raises(ValueError):
            Checkpoint.from_json(bad)
