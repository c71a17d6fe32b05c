"""The audit trail: append-only, hash-chained, verifiable.

Record ``n`` stores ``hash_n = H(prev_hash | seq | event_id | event_type | jackpot_id | actor |
occurred_ms | body)`` with ``prev_hash = hash_{n-1}`` (64 zeros for the first record) and
``body`` the canonical JSON of the event (sorted keys, no spaces). Changing a record breaks its
own hash; deleting one leaves a gap in ``seq`` and a ``prev_hash`` that points nowhere; inserting
one breaks the next record's ``prev_hash``; cutting the tail leaves ``audit_head`` (the last seq
and hash, updated in the same transaction as every append) pointing past the last row.

``H`` is SHA-256, or HMAC-SHA256 when a key is configured (``JACKPOT_AUDIT_KEY``): with a key,
someone who can write to the database still cannot forge a consistent chain. Keep the key out
of the database.

Concurrency: an append locks the single ``audit_head`` row (``SELECT ... FOR UPDATE``) for the
rest of its transaction, so appends from several workers are serialised and the chain order is
the commit order. Appends are idempotent on ``event_id``: an event already in the trail is skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import click

__all__ = ["Entry", "GENESIS", "append", "canonical", "chain_hash", "entry_from_event", "verify", "verify_rows",
           "VerifyResult", "audit"]

GENESIS = "0" * 64
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def key_bytes(key: bytes | str | None) -> bytes | None:
    if not key:
        return None
    return key if isinstance(key, bytes) else key.encode()


def canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(slots=True, frozen=True)
class Entry:
    event_id: str
    event_type: str
    jackpot_id: str
    actor: str
    ms: int
    body: dict[str, Any] = field(default_factory=dict)


def entry_from_event(e: Any) -> Entry:
    """An engine event (``sinks.events.Ev`` or EngineEvent dict) -> audit entry."""
    if isinstance(e, dict):
        from .events import normalise

        e = normalise(e)
    p = e.payload
    actor = p.get("actor") or p.get("changed_by") or p.get("started_by") or "system"
    return Entry(e.event_id, e.event_type, e.jackpot_id, str(actor), e.ms, p)


def chain_hash(prev_hash: str, seq: int, event_id: str, event_type: str, jackpot_id: str, actor: str,
               occurred_ms: int, body: str, key: bytes | None = None) -> str:
    msg = "|".join([prev_hash, str(seq), str(event_id), event_type, jackpot_id, actor, str(occurred_ms), body])
    if key:
        return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(msg.encode()).hexdigest()


async def append(conn: asyncpg.Connection, entries: Iterable[Entry], *, key: bytes | str | None = None,
                 in_transaction: bool = False) -> int:
    """Append entries (in the given order) to the chain; return how many were new.

    ``in_transaction=True`` when the caller already holds a transaction (the event sink appends
    inside its batch transaction, so the journal and the trail commit together).
    """
    entries = list(entries)
    if not entries:
        return 0
    if not in_transaction:
        async with conn.transaction():
            return await append(conn, entries, key=key, in_transaction=True)
    k = key_bytes(key)
    head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
    seq, prev = int(head["seq"]), head["hash"]
    ids = [uuid.UUID(str(e.event_id)) for e in entries]
    present = {str(r["event_id"]) for r in await conn.fetch(
        "SELECT event_id FROM audit_log WHERE event_id = ANY($1::uuid[])", ids)}
    rows = []
    for e in entries:
        eid = str(uuid.UUID(str(e.event_id)))
        if eid in present:
            continue
        present.add(eid)
        seq += 1
        body = canonical(e.body)
        h = chain_hash(prev, seq, eid, e.event_type, e.jackpot_id, e.actor, e.ms, body, k)
        rows.append((seq, uuid.UUID(eid), e.event_type, e.jackpot_id, e.actor, e.ms,
                     _EPOCH + dt.timedelta(milliseconds=e.ms), body, prev, h))
        prev = h
    if rows:
        await conn.copy_records_to_table(
            "audit_log", records=rows,
            columns=("seq", "event_id", "event_type", "jackpot_id", "actor", "occurred_ms", "occurred_at", "body",
                     "prev_hash", "hash"))
        await conn.execute("UPDATE audit_head SET seq = $1, hash = $2, updated_at = now() WHERE id = 1", seq, prev)
    return len(rows)


@dataclass(slots=True)
class VerifyResult:
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    last_seq: int = 0
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rows(rows: Iterable[dict], head: tuple[int, str] | None, key: bytes | None = None,
                max_problems: int = 100) -> VerifyResult:
    """Check a chain given its rows in ``seq`` order and the head (seq, hash)."""
    res = VerifyResult()
    expect_seq, prev = 1, GENESIS
    for r in rows:
        res.rows += 1
        seq = int(r["seq"])
        if seq != expect_seq:
            res.problems.append(f"seq {seq}: expected seq {expect_seq} (records missing or inserted)")
        if r["prev_hash"] != prev:
            res.problems.append(f"seq {seq}: prev_hash does not match the hash of the record before it")
        h = chain_hash(r["prev_hash"], seq, str(r["event_id"]), r["event_type"], r["jackpot_id"], r["actor"],
                       int(r["occurred_ms"]), r["body"], key)
        if h != r["hash"]:
            res.problems.append(f"seq {seq}: hash mismatch (the record was modified)")
        expect_seq, prev = seq + 1, r["hash"]
        res.last_seq, res.last_hash = seq, r["hash"]
        if len(res.problems) >= max_problems:
            res.problems.append("... stopping after too many problems")
            return res
    if head is not None and (int(head[0]), head[1]) != (res.last_seq, res.last_hash):
        res.problems.append(f"head points at seq {head[0]} but the chain ends at seq {res.last_seq} "
                            "(records removed from the end, or the head was changed)")
    return res


async def _rows(conn: asyncpg.Connection, batch: int = 5000) -> AsyncIterator[dict]:
    last = 0
    while True:
        chunk = await conn.fetch(
            "SELECT seq, event_id, event_type, jackpot_id, actor, occurred_ms, body, prev_hash, hash "
            "FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", last, batch)
        if not chunk:
            return
        for r in chunk:
            yield dict(r)
        last = chunk[-1]["seq"]


async def verify(dsn_or_conn: str | asyncpg.Connection, key: bytes | str | None = None) -> VerifyResult:
    """Walk the whole chain (in ``seq`` order, in pages) inside one repeatable-read snapshot."""
    conn = await asyncpg.connect(dsn_or_conn) if isinstance(dsn_or_conn, str) else dsn_or_conn
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1")
            rows = [r async for r in _rows(conn)]
        return verify_rows(rows, (head["seq"], head["hash"]) if head else (0, GENESIS), key_bytes(key))
    finally:
        if isinstance(dsn_or_conn, str):
            await conn.close()


# ------------------------------------------------------------------ CLI
@click.group("audit")
def audit() -> None:
    """The hash-chained audit trail."""


@audit.command("verify")
@click.option("--database-url", envvar="DATABASE_URL", default=None,
              help="PostgreSQL URL (default: the settings' DATABASE_URL).")
@click.option("--key", envvar="JACKPOT_AUDIT_KEY", default="", show_default=False,
              help="HMAC key of the chain, if one is configured (env JACKPOT_AUDIT_KEY).")
def verify_command(database_url: str | None, key: str) -> None:
    """Check every record of the audit chain; exit 1 on any break (modified, missing or inserted rows)."""
    if database_url is None:
        from jackpot.settings import get_settings

        database_url = get_settings().database_url
    res = asyncio.run(verify(database_url, key or None))
    if res.ok:
        click.echo(f"audit chain OK: {res.rows} records, head seq {res.last_seq} hash {res.last_hash}")
        return
    click.echo(f"audit chain BROKEN: {len(res.problems)} problem(s) in {res.rows} records", err=True)
    for p in res.problems:
        click.echo(f"  {p}", err=True)
    sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    audit()
