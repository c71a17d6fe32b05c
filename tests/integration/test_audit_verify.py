"""`jackpot audit verify` against the real database and broker: a modified, deleted or inserted
row is found, and so is a cut tail with the head moved back (by the signed checkpoints on the
checkpoints topic or in an exported file)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import uuid
from contextlib import asynccontextmanager

import asyncpg
import pytest
from click.testing import CliRunner

from jackpot.sinks import audit
from jackpot.sinks.audit import audit as audit_cli
from jackpot.sinks.checkpoints import Checkpointer, producer_send, read_topic
from jackpot.sinks.events import EventSink
from jackpot.sinks.migrate import MIGRATIONS_DIR, migrate
from jackpot.streams import topics as T
from jackpot.streams.kafka import producer

from ..unit.sinks.scenario import run
from .conftest import with_db
from .test_admin_support import admin  # noqa: F401  (fixture)
from .test_ledger_events import private_database

pytestmark = pytest.mark.integration

KEY = "kqV3bV0o1n8bZ2m5Hc9yXQe7LrT4uWfA6dGs1pJ0hNk="  # a test key of 44 random base64 characters


def _invoke(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(audit_cli, args)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


async def cli(*args: str) -> tuple[int, str]:
    """The command as an operator runs it (its own event loop, so in a thread here)."""
    return await asyncio.to_thread(_invoke, list(args))


async def verify_cli(dsn: str, topic: str, *extra: str) -> tuple[int, str]:
    return await cli("verify", "--database-url", dsn, "--topic", topic, *extra)


@pytest.fixture
async def topic(settings):
    """A checkpoints topic of this test's own (the chains of the tests differ)."""
    spec = dataclasses.replace(T.AUDIT_CHECKPOINTS, name=f"audit-checkpoints-{uuid.uuid4().hex[:8]}")
    await T.ensure_topics(settings, [spec])
    return settings.topic(spec.name)


async def tamper(dsn: str, sql: str, *args) -> None:
    """Bypass the append-only triggers as a superuser would, and change the table."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
async def chain_db(settings):
    async with private_database(settings) as dsn:
        sink = EventSink(dsn)
        try:
            await sink.write(run().events)
        finally:
            await sink.close()
        yield dsn


async def test_an_intact_chain_verifies_and_the_log_refuses_changes(chain_db, topic):
    code, out = await verify_cli(chain_db, topic)
    assert code == 0 and "audit chain OK" in out, out
    conn = await asyncpg.connect(chain_db)
    try:
        for sql in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1",
                    "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_modified_row_is_detected(chain_db, topic):
    await tamper(chain_db, "UPDATE audit_log SET body = replace(body, '\"op-1\"', '\"op-2\"') WHERE seq = 3")
    code, out = await verify_cli(chain_db, topic)
    assert code == 1 and "seq 3: hash mismatch" in out, out


async def test_a_deleted_row_is_detected(chain_db, topic):
    await tamper(chain_db, "DELETE FROM audit_log WHERE seq = 4")
    code, out = await verify_cli(chain_db, topic)
    assert code == 1 and "expected seq 4" in out, out


async def test_a_deleted_last_row_is_detected(chain_db, topic):
    await tamper(chain_db, "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    code, out = await verify_cli(chain_db, topic)
    assert code == 1 and "head points at seq" in out, out


async def test_an_inserted_row_is_detected(chain_db, topic):
    # shift the tail up by one and slip a copy of record 2 in at seq 3 (fresh id, its old hashes)
    await tamper(chain_db, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3")
    await tamper(chain_db, "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
    await tamper(chain_db, "INSERT INTO audit_log (seq, event_id, event_type, jackpot_id, actor, occurred_ms, "
                           "occurred_at, body, prev_hash, hash) SELECT 3, gen_random_uuid(), event_type, jackpot_id, "
                           "actor, occurred_ms, occurred_at, body, prev_hash, hash FROM audit_log WHERE seq = 2")
    code, out = await verify_cli(chain_db, topic)
    assert code == 1 and "seq 3" in out and "BROKEN" in out, out


# ------------------------------------------------------------------ checkpoints
async def cut_tail(dsn: str, keep: int) -> None:
    """The attack the head alone cannot show: remove the records after ``keep`` and move the head
    back onto the new last record, so the chain left is consistent."""
    await tamper(dsn, "DELETE FROM audit_log WHERE seq > $1", keep)
    await tamper(dsn, "UPDATE audit_head SET seq = l.seq, hash = l.hash FROM audit_log l WHERE l.seq = $1", keep)


async def test_a_cut_tail_with_the_head_moved_back_is_caught_by_a_checkpoint(chain_db, topic, tmp_path):
    code, out = await cli("checkpoint", "--database-url", chain_db, "--topic", topic)
    assert code == 0, out
    cp = json.loads(out.strip().splitlines()[-1])
    assert cp["seq"] > 3 and cp["sig"] is None  # no key: unsigned, still held against the chain
    exported = tmp_path / "checkpoints.jsonl"
    code, out = await cli("checkpoints", "export", str(exported), "--topic", topic)
    assert code == 0 and [json.loads(line) for line in exported.read_text().splitlines()] == [cp], out

    await cut_tail(chain_db, cp["seq"] - 2)
    code, out = await verify_cli(chain_db, topic, "--no-kafka")
    assert code == 0, out  # the rows and the head alone no longer show it
    code, out = await verify_cli(chain_db, topic)
    assert code == 1 and f"checkpoint seq {cp['seq']}" in out and "records removed from the end" in out, out
    code, out = await verify_cli(chain_db, topic, "--no-kafka", "--checkpoints", str(exported))
    assert code == 1 and "records removed from the end" in out, out


async def test_a_rewritten_record_at_a_checkpoint_is_caught(chain_db, topic):
    """Without a key anyone can recompute the hashes after a change; the checkpoint still holds
    the old hash of its seq."""
    code, out = await cli("checkpoint", "--database-url", chain_db, "--topic", topic)
    assert code == 0, out
    seq = json.loads(out.strip().splitlines()[-1])["seq"]
    conn = await asyncpg.connect(chain_db)
    try:
        rows = [dict(r) for r in await conn.fetch("SELECT * FROM audit_log ORDER BY seq")]
    finally:
        await conn.close()
    prev = audit.GENESIS
    for r in rows:  # rewrite the actor of every record and recompute the whole chain
        r["actor"] = "someone-else"
        h = audit.chain_hash(prev, r["seq"], str(r["event_id"]), r["event_type"], r["jackpot_id"], r["actor"],
                             r["occurred_ms"], r["body"], None, fmt=r["format"])
        await tamper(chain_db, "UPDATE audit_log SET actor = $2, prev_hash = $3, hash = $4 WHERE seq = $1",
                     r["seq"], r["actor"], prev, h)
        prev = h
    await tamper(chain_db, "UPDATE audit_head SET hash = $1", prev)
    assert (await verify_cli(chain_db, topic, "--no-kafka"))[0] == 0
    code, out = await verify_cli(chain_db, topic)
    assert code == 1 and f"checkpoint seq {seq}" in out and "the chain was rewritten" in out, out


async def test_signed_checkpoints_and_a_wrong_signature_is_reported(settings, topic, tmp_path):
    async with private_database(settings) as dsn:
        sink = EventSink(dsn, audit_key=KEY)
        try:
            await sink.write(run().events)
        finally:
            await sink.close()
        code, out = await cli("checkpoint", "--database-url", dsn, "--key", KEY, "--topic", topic)
        assert code == 0, out
        good = audit.Checkpoint.from_json(out.strip().splitlines()[-1])
        assert good.signature_ok(KEY)
        code, out = await verify_cli(dsn, topic, "--key", KEY)
        assert code == 0 and "1 checkpoint(s)" in out, out

        # a file whose checkpoint claims a shorter chain, re-signed under another key
        forged = dataclasses.replace(good, seq=good.seq - 1).signed(b"x" * 8 + b"another key, not the chain's")
        path = tmp_path / "forged.jsonl"
        path.write_text(forged.to_json() + "\n")
        code, out = await verify_cli(dsn, topic, "--key", KEY, "--checkpoints", str(path))
        assert code == 1 and f"checkpoint seq {good.seq - 1}" in out and "bad signature" in out, out
        # unsigned while the chain has a key
        path.write_text(dataclasses.replace(good, sig=None).to_json() + "\n")
        code, out = await verify_cli(dsn, topic, "--key", KEY, "--no-kafka", "--checkpoints", str(path))
        assert code == 1 and "unsigned" in out, out


async def test_the_checkpointer_publishes_when_the_head_moved(settings, topic):
    s = settings.model_copy(update={"topic_prefix": ""})  # ``topic`` is already prefixed
    name = topic
    async with private_database(settings) as dsn, producer(settings) as prod:
        send = producer_send(s, prod)

        async def to_topic(_: str, key: bytes, value: bytes) -> None:
            await send(name, key, value)

        cp = Checkpointer(s, to_topic, dsn)
        try:
            assert await cp.tick() is None  # an empty chain: nothing to pin
            conn = await asyncpg.connect(dsn)
            try:
                entry = audit.Entry(str(uuid.uuid4()), "AdminAction", "j", "op", 1_790_000_000_000, {"n": 1})
                await audit.append(conn, [entry])
                first = await cp.tick()
                assert first is not None and first.seq == 1
                assert await cp.tick() is None  # not moved
                await audit.append(conn, [dataclasses.replace(entry, event_id=str(uuid.uuid4()))])
                second = await cp.tick()
            finally:
                await conn.close()
        finally:
            await cp.stop()
        assert second is not None and second.seq == 2
        got, bad = await read_topic(settings, name)
        assert not bad and [(c.seq, c.hash) for c in got] == [(1, first.hash), (2, second.hash)]
        assert (await audit.verify(dsn, checkpoints=got)).ok


async def test_the_admin_api_publishes_checkpoints_of_what_it_appends(admin, settings):  # noqa: F811
    from jackpot.gateway.admin.services import SCHEDULER

    await admin.services.trail.record(SCHEDULER, action="checkpoint-test", jackpot_id=None, request_id="r-1")
    conn = await asyncpg.connect(settings.database_url)
    try:
        seq, h = await audit.head_of(conn)
    finally:
        await conn.close()
    name = settings.topic(T.AUDIT_CHECKPOINTS.name)
    for _ in range(40):  # the checkpointer runs every JACKPOT_AUDIT_CHECKPOINT_INTERVAL_S (5 s)
        got, bad = await read_topic(settings, name)
        if any(c.seq == seq for c in got):
            break
        await asyncio.sleep(0.5)
    assert not bad and (seq, h) in [(c.seq, c.hash) for c in got], got
    assert (await audit.verify(settings.database_url, checkpoints=got)).ok


# ------------------------------------------------------------------ formats
async def test_moving_a_separator_between_two_fields_is_caught(settings, topic):
    """Format 1 joined the fields with "|": jackpot "j|x" by "op" hashed like jackpot "j" by "x|op"."""
    async with private_database(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await audit.append(conn, [audit.Entry(str(uuid.uuid4()), "AdminAction", "j|x", "op", 1, {"n": 1})])
        finally:
            await conn.close()
        assert (await verify_cli(dsn, topic))[0] == 0
        await tamper(dsn, "UPDATE audit_log SET jackpot_id = 'j', actor = 'x|op' WHERE seq = 1")
        code, out = await verify_cli(dsn, topic)
        assert code == 1 and "seq 1: hash mismatch" in out, out


@asynccontextmanager
async def database_before_formats(settings, tmp_path):
    """A database migrated as it was before chain formats (every migration but 0010)."""
    old = tmp_path / "migrations"
    old.mkdir()
    for f in MIGRATIONS_DIR.glob("*.sql"):
        if not f.name.startswith("0010_"):
            shutil.copy(f, old / f.name)
    name = f"jackpot_audit_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(with_db(settings.database_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = with_db(settings.database_url, name)
        await migrate(dsn, old)
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def write_format_1(conn, n: int, key: bytes | None) -> None:
    """Records as the code before formats wrote them: "|"-joined hashes, no format column."""
    seq, prev = await conn.fetchrow("SELECT seq, hash FROM audit_head")
    for _ in range(n):
        seq += 1
        eid, body = str(uuid.uuid4()), audit.canonical({"seq": seq})
        h = audit.chain_hash(prev, seq, eid, "AdminAction", "j", "op", 1000 + seq, body, key, fmt=1)
        await conn.execute(
            "INSERT INTO audit_log (seq, event_id, event_type, jackpot_id, actor, occurred_ms, occurred_at, body, "
            "prev_hash, hash) VALUES ($1, $2, 'AdminAction', 'j', 'op', $3, now(), $4, $5, $6)",
            seq, uuid.UUID(eid), 1000 + seq, body, prev, h)
        await conn.execute("UPDATE audit_head SET seq = $1, hash = $2", seq, h)
        prev = h


async def test_old_format_records_still_verify_and_a_downgrade_is_refused(settings, topic, tmp_path):
    async with database_before_formats(settings, tmp_path) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await write_format_1(conn, 3, KEY.encode())
            assert await migrate(dsn) == ["0010_audit_format"]
            await audit.append(conn, [audit.Entry(str(uuid.uuid4()), "AdminAction", "j", "op", 2000, {"new": i})
                                      for i in range(2)], key=KEY)
            formats = [r["format"] for r in await conn.fetch("SELECT format FROM audit_log ORDER BY seq")]
            assert formats == [1, 1, 1, 2, 2]  # the migration marked the records before it as format 1
            code, out = await verify_cli(dsn, topic, "--key", KEY)
            assert code == 0 and "5 records" in out, out
            await write_format_1(conn, 1, KEY.encode())  # appended the old way after format 2 records
        finally:
            await conn.close()
        code, out = await verify_cli(dsn, topic, "--key", KEY)
        assert code == 1 and "seq 6: format 1 record after a format 2 record" in out, out
