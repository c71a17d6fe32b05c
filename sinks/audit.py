"""The audit trail: append-only, hash-chained, verifiable, pinned by signed checkpoints.

Record ``n`` stores ``hash_n = H(prev_hash, seq, event_id, event_type, jackpot_id, actor,
occurred_ms, body)`` with ``prev_hash = hash_{n-1}`` (64 zeros for the first record) and
``body`` the canonical JSON of the event (sorted keys, no spaces). The message is encoded per the
record's ``format``: 2 (every new record) gives each field as its byte length and its bytes, so no
field's content can move into its neighbour; 1 (records written before migration 0010) joined
the fields with "|", which was ambiguous, and is kept only so old records still verify. A format
1 record after a format 2 record is refused (a downgrade).

Changing a record breaks its own hash; deleting one leaves a gap in ``seq`` and a ``prev_hash``
that points nowhere; inserting one breaks the next record's ``prev_hash``. Cutting the tail and
moving ``audit_head`` back would leave a consistent chain, so the head is also published as
signed checkpoints (seq, hash, time, HMAC) where database access cannot rewrite them: the
``audit-checkpoints`` topic and files exported from it (sinks/checkpoints.py). ``verify`` checks
every checkpoint it is given: its seq must exist with exactly its hash, and the chain must reach
the newest one.

``H`` is HMAC-SHA256 under ``JACKPOT_AUDIT_KEY`` (plain SHA-256 without one, development only):
someone who can write to the database still cannot forge a consistent chain or a checkpoint.
Keep the key out of the database. ``require_key`` is the start-up policy every process that
writes the chain applies: production refuses to start without a strong key.

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
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import click

__all__ = ["Entry", "GENESIS", "FORMAT", "append", "canonical", "chain_hash", "entry_from_event", "verify",
           "verify_rows", "VerifyResult", "Checkpoint", "AuditKeyError", "key_problem", "require_key", "audit"]

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# The hash format every new record is written in (see the module docstring); 1 is verify-only.
FORMAT = 2
FORMATS = (1, 2)
_CHAIN_V2 = b"jackpot-audit-chain/2"
_CHECKPOINT_V1 = b"jackpot-audit-checkpoint/1"


# ------------------------------------------------------------------ key policy
MIN_KEY_BYTES = 32
# Placeholders of examples and documentation: a key containing one was copied, not generated.
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "example", "placeholder", "password",
                 "secret")
KEY_HINT = "generate one with `openssl rand -base64 48`"


class AuditKeyError(click.ClickException):
    """A production process without a strong audit key: it refuses to start (exit 1, the reason
    on stderr) rather than write a chain that anyone with database access could recompute."""


def key_problem(key: bytes | str | None) -> str | None:
    """Why ``key`` is not a strong audit key (None when it is): unset, under 32 bytes, an example
    value, or too regular to be random."""
    if not key:
        return "JACKPOT_AUDIT_KEY is not set"
    raw = key if isinstance(key, bytes) else key.encode()
    if len(raw) < MIN_KEY_BYTES:
        return f"JACKPOT_AUDIT_KEY is {len(raw)} bytes long; at least {MIN_KEY_BYTES} are needed"
    low = raw.decode(errors="replace").lower()
    if any(p in low for p in _PLACEHOLDERS):
        return "JACKPOT_AUDIT_KEY is an example value (it contains a placeholder such as CHANGE-ME)"
    if len(set(raw)) < 10:
        return "JACKPOT_AUDIT_KEY uses fewer than 10 distinct characters"
    if (raw + raw).find(raw, 1) < len(raw):
        return "JACKPOT_AUDIT_KEY repeats a shorter pattern"
    steps = [b - a for a, b in zip(raw, raw[1:])]
    if sum(1 for d in steps if d in (-1, 0, 1)) * 2 > len(steps):
        return "JACKPOT_AUDIT_KEY is mostly runs of consecutive or repeated characters"
    return None


_warned: set[str] = set()


def require_key(settings: Any, key: bytes | str | None = None) -> bytes | None:
    """The audit key policy, applied at start by every process that writes the chain (sinks,
    worker with sinks, admin API, ``jackpot audit checkpoint``): in production a missing or weak
    key is an ``AuditKeyError``; in development it is a warning. ``key`` defaults to the settings'
    JACKPOT_AUDIT_KEY. Returns the key's bytes."""
    key = settings.audit_hmac_key if key is None else key
    problem = key_problem(key)
    if problem is None:
        return key_bytes(key)
    if settings.production:
        raise AuditKeyError(f"refusing to start in production: {problem}. The audit chain needs a strong HMAC key "
                            f"kept out of the database: {KEY_HINT} and set it as JACKPOT_AUDIT_KEY "
                            "(the jackpot-secrets Secret).")
    if problem not in _warned:
        _warned.add(problem)
        log.warning("weak audit key (refused in production)",
                    extra={"problem": problem, "hint": KEY_HINT + " and set JACKPOT_AUDIT_KEY"})
    return key_bytes(key)


def key_bytes(key: bytes | str | None) -> bytes | None:
    if not key:
        return None
    return key if isinstance(key, bytes) else key.encode()


# ------------------------------------------------------------------ encoding
def canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def length_prefixed(*fields: bytes | str | int) -> bytes:
    """Each field as its UTF-8 byte length (8 bytes, big-endian) then its bytes: one encoding per
    tuple of fields, whatever characters they hold."""
    out = bytearray()
    for f in fields:
        b = f if isinstance(f, bytes) else str(f).encode()
        out += len(b).to_bytes(8, "big") + b
    return bytes(out)


def _mac(msg: bytes, key: bytes | None) -> str:
    if key:
        return hmac.new(key, msg, hashlib.sha256).hexdigest()
    return hashlib.sha256(msg).hexdigest()


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
               occurred_ms: int, body: str, key: bytes | None = None, fmt: int = 1) -> str:
    """The hash of one record in format ``fmt``: 2 (``FORMAT``, what ``append`` writes) is length
    prefixed; 1, the default for callers that predate formats, is the legacy "|"-joined message."""
    if fmt == 1:
        msg = "|".join([prev_hash, str(seq), str(event_id), event_type, jackpot_id, actor, str(occurred_ms),
                        body]).encode()
    elif fmt == 2:
        msg = length_prefixed(_CHAIN_V2, prev_hash, seq, str(event_id), event_type, jackpot_id, actor,
                              occurred_ms, body)
    else:
        raise ValueError(f"unknown audit chain format {fmt}")
    return _mac(msg, key)


async def append(conn: asyncpg.Connection, entries: Iterable[Entry], *, key: bytes | str | None = None,
                 in_transaction: bool = False) -> int:
    """Append entries (in the given order) to the chain, in format ``FORMAT``; return how many were new.

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
        h = chain_hash(prev, seq, eid, e.event_type, e.jackpot_id, e.actor, e.ms, body, k, fmt=FORMAT)
        rows.append((seq, uuid.UUID(eid), e.event_type, e.jackpot_id, e.actor, e.ms,
                     _EPOCH + dt.timedelta(milliseconds=e.ms), body, prev, h, FORMAT))
        prev = h
    if rows:
        await conn.copy_records_to_table(
            "audit_log", records=rows,
            columns=("seq", "event_id", "event_type", "jackpot_id", "actor", "occurred_ms", "occurred_at", "body",
                     "prev_hash", "hash", "format"))
        await conn.execute("UPDATE audit_head SET seq = $1, hash = $2, updated_at = now() WHERE id = 1", seq, prev)
    return len(rows)


async def head_of(conn: asyncpg.Connection) -> tuple[int, str]:
    """The last record's (seq, hash): what a checkpoint pins ((0, GENESIS) for an empty chain)."""
    row = await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (int(row["seq"]), row["hash"]) if row else (0, GENESIS)


# ------------------------------------------------------------------ checkpoints
@dataclass(slots=True, frozen=True)
class Checkpoint:
    """The chain's head at a time, HMAC-signed under the audit key (``sig`` None: no key, dev).
    ``source`` says where it was read (topic offset, file line), for problem messages."""

    seq: int
    hash: str
    time_ms: int
    sig: str | None = None
    source: str = field(default="", compare=False)

    def _message(self) -> bytes:
        return length_prefixed(_CHECKPOINT_V1, self.seq, self.hash, self.time_ms)

    def signed(self, key: bytes | str | None) -> Checkpoint:
        k = key_bytes(key)
        return replace(self, sig=hmac.new(k, self._message(), hashlib.sha256).hexdigest() if k else None)

    def signature_ok(self, key: bytes | str | None) -> bool:
        k = key_bytes(key)
        if not (k and self.sig):
            return False
        return hmac.compare_digest(hmac.new(k, self._message(), hashlib.sha256).hexdigest(), self.sig)

    @property
    def time(self) -> str:
        return (_EPOCH + dt.timedelta(milliseconds=self.time_ms)).isoformat(timespec="milliseconds")

    @property
    def label(self) -> str:
        return f"checkpoint seq {self.seq} of {self.time}" + (f" ({self.source})" if self.source else "")

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "time_ms": self.time_ms, "time": self.time,
                           "sig": self.sig}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "") -> Checkpoint:
        """Parse one exported or published checkpoint; ValueError when it is not one."""
        try:
            d = json.loads(text)
            seq, h, ms, sig = d["seq"], d["hash"], d["time_ms"], d.get("sig")
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from exc
        if (type(seq) is not int or seq < 0 or type(ms) is not int or not isinstance(h, str) or len(h) != 64
                or not (sig is None or isinstance(sig, str))):
            raise ValueError("not a checkpoint: bad seq, hash, time_ms or sig")
        return cls(seq, h, ms, sig, source)


# ------------------------------------------------------------------ verification
@dataclass(slots=True)
class VerifyResult:
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    last_seq: int = 0
    last_hash: str = GENESIS
    checkpoints: int = 0  # checkpoints checked against the chain
    newest_checkpoint: int = 0  # the highest seq a checkpoint pinned

    @property
    def ok(self) -> bool:
        return not self.problems


def _checkpoint_problems(checkpoints: Iterable[Checkpoint], key: bytes | None) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints to hold the chain to, and the problems of those that cannot be trusted
    (with a key: unsigned or a bad signature; they are reported, not used)."""
    usable, problems = [], []
    for cp in checkpoints:
        if key and not cp.sig:
            problems.append(f"{cp.label}: unsigned, but the chain has a key (forged or written without the key)")
        elif key and not cp.signature_ok(key):
            problems.append(f"{cp.label}: bad signature (forged or altered, or signed with another key)")
        else:
            usable.append(cp)
    return usable, problems


def verify_rows(rows: Iterable[dict], head: tuple[int, str] | None, key: bytes | None = None,
                max_problems: int = 100, checkpoints: Iterable[Checkpoint] = ()) -> VerifyResult:
    """Check a chain given its rows in ``seq`` order, the head (seq, hash) and checkpoints.

    A row without a ``format`` is format 1. Without a key, checkpoint signatures are not checked
    (development chains are unsigned), but every checkpoint is still held against the chain.
    """
    res = VerifyResult()
    usable, cp_problems = _checkpoint_problems(checkpoints, key)
    res.problems += cp_problems
    pinned: dict[int, list[Checkpoint]] = {}  # one per (seq, hash): every process publishes the same heads
    for cp in sorted(usable, key=lambda c: -c.time_ms):
        same = pinned.setdefault(cp.seq, [])
        if all(c.hash != cp.hash for c in same):
            same.append(cp)
    res.checkpoints = len(usable)
    res.newest_checkpoint = max(pinned, default=0)
    found: set[int] = set()
    expect_seq, prev, seen_format = 1, GENESIS, 0
    for r in rows:
        res.rows += 1
        seq = int(r["seq"])
        fmt = int(r.get("format") or 1)
        if seq != expect_seq:
            res.problems.append(f"seq {seq}: expected seq {expect_seq} (records missing or inserted)")
        if r["prev_hash"] != prev:
            res.problems.append(f"seq {seq}: prev_hash does not match the hash of the record before it")
        if fmt not in FORMATS:
            res.problems.append(f"seq {seq}: unknown format {fmt}")
        else:
            if fmt < seen_format:
                res.problems.append(f"seq {seq}: format {fmt} record after a format {seen_format} record "
                                    "(a downgrade to the older hash format)")
            seen_format = max(seen_format, fmt)
            h = chain_hash(r["prev_hash"], seq, str(r["event_id"]), r["event_type"], r["jackpot_id"], r["actor"],
                           int(r["occurred_ms"]), r["body"], key, fmt=fmt)
            if h != r["hash"]:
                res.problems.append(f"seq {seq}: hash mismatch (the record was modified)")
        for cp in pinned.get(seq, ()):
            found.add(seq)
            if cp.hash != r["hash"]:
                res.problems.append(f"{cp.label}: seq {seq} has another hash than the checkpoint "
                                    "(the chain was rewritten)")
        expect_seq, prev = seq + 1, r["hash"]
        res.last_seq, res.last_hash = seq, r["hash"]
        if len(res.problems) >= max_problems:
            res.problems.append("... stopping after too many problems")
            return res
    missing = sorted(set(pinned) - found - {0})
    for seq in missing:
        if seq <= res.last_seq:
            res.problems.append(f"{pinned[seq][0].label}: no record with seq {seq} (records removed)")
    past = [seq for seq in missing if seq > res.last_seq]
    if past:  # the newest one says it all; the others are counted
        more = f"; {len(past) - 1} earlier checkpoint(s) past the end too" if len(past) > 1 else ""
        res.problems.append(f"{pinned[past[-1]][0].label}: the chain ends at seq {res.last_seq} "
                            f"(records removed from the end{more})")
    for cp in pinned.get(0, ()):
        if cp.hash != GENESIS:
            res.problems.append(f"{cp.label}: an empty chain's checkpoint with a hash other than the genesis hash")
    if head is not None and (int(head[0]), head[1]) != (res.last_seq, res.last_hash):
        res.problems.append(f"head points at seq {head[0]} but the chain ends at seq {res.last_seq} "
                            "(records removed from the end, or the head was changed)")
    return res


async def _rows(conn: asyncpg.Connection, batch: int = 5000) -> AsyncIterator[dict]:
    last = 0
    while True:
        chunk = await conn.fetch(
            "SELECT seq, event_id, event_type, jackpot_id, actor, occurred_ms, body, prev_hash, hash, format "
            "FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", last, batch)
        if not chunk:
            return
        for r in chunk:
            yield dict(r)
        last = chunk[-1]["seq"]


async def verify(dsn_or_conn: str | asyncpg.Connection, key: bytes | str | None = None,
                 checkpoints: Iterable[Checkpoint] = ()) -> VerifyResult:
    """Walk the whole chain (in ``seq`` order, in pages) inside one repeatable-read snapshot and
    hold it to ``checkpoints`` (sinks/checkpoints.py reads them from the topic or a file)."""
    conn = await asyncpg.connect(dsn_or_conn) if isinstance(dsn_or_conn, str) else dsn_or_conn
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1")
            rows = [r async for r in _rows(conn)]
        return verify_rows(rows, (head["seq"], head["hash"]) if head else (0, GENESIS), key_bytes(key),
                           checkpoints=checkpoints)
    finally:
        if isinstance(dsn_or_conn, str):
            await conn.close()


# ------------------------------------------------------------------ CLI
def _settings() -> Any:
    from jackpot.settings import get_settings

    return get_settings()


_database_option = click.option("--database-url", envvar="DATABASE_URL", default=None,
                                help="PostgreSQL URL (default: the settings' DATABASE_URL).")
_key_option = click.option("--key", envvar="JACKPOT_AUDIT_KEY", default="", show_default=False,
                           help="HMAC key of the chain, if one is configured (env JACKPOT_AUDIT_KEY).")
_topic_option = click.option("--topic", default=None,
                             help="Checkpoints topic (default: audit-checkpoints with the settings' topic prefix).")


@click.group("audit")
def audit() -> None:
    """The hash-chained audit trail and its checkpoints."""


@audit.command("verify")
@_database_option
@_key_option
@click.option("--checkpoints", "files", multiple=True, type=click.Path(dir_okay=False),
              help="A checkpoints file (JSON lines, from `jackpot audit checkpoints export`); repeatable.")
@click.option("--kafka/--no-kafka", default=True, show_default=True,
              help="Also hold the chain to every checkpoint on the checkpoints topic.")
@_topic_option
def verify_command(database_url: str | None, key: str, files: tuple[str, ...], kafka: bool,
                   topic: str | None) -> None:
    """Check every record of the audit chain and hold it to every checkpoint read; exit 1 on any
    problem (modified, missing or inserted rows, a cut tail, a bad checkpoint, an unreadable source)."""
    from . import checkpoints as C

    settings = _settings()
    database_url = database_url or settings.database_url
    # the checkpoints first, then the chain's snapshot: every checkpoint read pins a head that the
    # snapshot includes, however many records are appended meanwhile
    cps: list[Checkpoint] = []
    problems: list[str] = []
    sources = []
    if kafka:
        name = topic or C.topic_name(settings)
        try:
            got, bad = asyncio.run(C.read_topic(settings, name))
            cps += got
            problems += bad
            sources.append(f"topic {name}")
        except Exception as exc:
            problems.append(f"checkpoints topic {name} unreadable: {exc!r} (--no-kafka to verify without it)")
    for path in files:
        try:
            got, bad = C.read_file(path)
        except OSError as exc:
            problems.append(f"checkpoints file {path} unreadable: {exc}")
            continue
        cps += got
        problems += bad
        sources.append(path)
    res = asyncio.run(verify(database_url, key or None, checkpoints=cps))
    res.problems[:0] = problems
    pinned = (f"{res.checkpoints} checkpoint(s) from {', '.join(sources)} hold (newest seq {res.newest_checkpoint})"
              if sources else "no checkpoints read")
    if res.ok:
        click.echo(f"audit chain OK: {res.rows} records, head seq {res.last_seq} hash {res.last_hash}; {pinned}")
        return
    click.echo(f"audit chain BROKEN: {len(res.problems)} problem(s) in {res.rows} records", err=True)
    for p in res.problems:
        click.echo(f"  {p}", err=True)
    sys.exit(1)


@audit.command("checkpoint")
@_database_option
@_key_option
@_topic_option
def checkpoint_command(database_url: str | None, key: str, topic: str | None) -> None:
    """Publish a signed checkpoint of the chain's head now (the sinks and the admin API also
    write one every JACKPOT_AUDIT_CHECKPOINT_INTERVAL_S while the head moves)."""
    from . import checkpoints as C

    settings = _settings()
    k = require_key(settings, key)
    cp = asyncio.run(C.checkpoint_now(settings, database_url or settings.database_url, k, topic))
    click.echo(cp.to_json())


@audit.group("checkpoints")
def checkpoints_group() -> None:
    """The published checkpoints of the chain's head."""


@checkpoints_group.command("export")
@click.argument("file", type=click.File("w", lazy=False))
@_topic_option
def export_command(file: Any, topic: str | None) -> None:
    """Write every checkpoint on the topic to FILE ("-": stdout) as JSON lines, for safekeeping
    outside the cluster; `jackpot audit verify --checkpoints FILE` reads it back."""
    from . import checkpoints as C

    settings = _settings()
    got, bad = asyncio.run(C.read_topic(settings, topic or C.topic_name(settings)))
    for cp in got:
        file.write(cp.to_json() + "\n")
    for p in bad:
        click.echo(f"skipped: {p}", err=True)
    click.echo(f"{len(got)} checkpoint(s) exported", err=True)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    audit()
