"""`jackpot audit verify` against the real database: a modified, deleted or inserted row is found."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from click.testing import CliRunner

from jackpot.sinks.audit import audit as audit_cli
from jackpot.sinks.events import EventSink

from ..unit.sinks.scenario import run
from .test_ledger_events import private_database

pytestmark = pytest.mark.integration


def _invoke(dsn: str) -> tuple[int, str]:
    res = CliRunner().invoke(audit_cli, ["verify", "--database-url", dsn])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


async def verify_cli(dsn: str) -> tuple[int, str]:
    """The command as an operator runs it (its own event loop, so in a thread here)."""
    return await asyncio.to_thread(_invoke, dsn)


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


async def test_an_intact_chain_verifies_and_the_log_refuses_changes(chain_db):
    code, out = await verify_cli(chain_db)
    assert code == 0 and "audit chain OK" in out, out
    conn = await asyncpg.connect(chain_db)
    try:
        for sql in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1",
                    "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_modified_row_is_detected(chain_db):
    await tamper(chain_db, "UPDATE audit_log SET body = replace(body, '\"op-1\"', '\"op-2\"') WHERE seq = 3")
    code, out = await verify_cli(chain_db)
    assert code == 1 and "seq 3: hash mismatch" in out, out


async def test_a_deleted_row_is_detected(chain_db):
    await tamper(chain_db, "DELETE FROM audit_log WHERE seq = 4")
    code, out = await verify_cli(chain_db)
    assert code == 1 and "expected seq 4" in out, out


async def test_a_deleted_last_row_is_detected(chain_db):
    await tamper(chain_db, "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    code, out = await verify_cli(chain_db)
    assert code == 1 and "head points at seq" in out, out


async def test_an_inserted_row_is_detected(chain_db):
    # shift the tail up by one and slip a copy of record 2 in at seq 3 (fresh id, its old hashes)
    await tamper(chain_db, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3")
    await tamper(chain_db, "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
    await tamper(chain_db, "INSERT INTO audit_log (seq, event_id, event_type, jackpot_id, actor, occurred_ms, "
                           "occurred_at, body, prev_hash, hash) SELECT 3, gen_random_uuid(), event_type, jackpot_id, "
                           "actor, occurred_ms, occurred_at, body, prev_hash, hash FROM audit_log WHERE seq = 2")
    code, out = await verify_cli(chain_db)
    assert code == 1 and "seq 3" in out and "BROKEN" in out, out
