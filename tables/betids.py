"""The bet ids each jackpot has seen: idempotency by ``BetPlaced.event_id``.

Providers retry.  A retried bet arrives at a new offset of the bets topic (possibly on another
partition, if the provider keys its messages carelessly), so the jackpot's offset marks do not
see it; the bet's own id does.  The jackpot agent keeps, per jackpot, every bet id it saw within
the dedup horizon with where it first saw it (bets partition and offset) and a fingerprint of its
content, and decides for each contribution request:

- ``NEW``: never seen: apply it, and remember it;
- ``REPLAY``: seen at these very coordinates: the same message read again after a crash.  Whether
  it was applied is the offset marks' business (an entry is written before the jackpot value that
  includes its bet, so an entry may be ahead of the value, never behind);
- ``RESEND``: seen elsewhere with the same content: a provider's retry, not applied again;
- ``CONFLICT``: seen elsewhere with different content: dead-lettered ("conflicting duplicate").

Storage.  Entries live in the jackpot's partition of a RocksDB table under
``bucket | jackpot_id NUL bet_id``, where ``bucket`` numbers slices of a quarter of the horizon of
received time.  A lookup reads the entry in the few buckets that can hold it; expiry deletes whole
old buckets from the front of the key space, a bounded number of keys at a time.  So a resend is
recognised for at least the horizon (at most for 1.5 times it), memory and the changelog (compacted,
with tombstones) stay bounded by the bets of that period, and restarts and rebalances recover the
entries with the table.

Packs.  A changelog record per bet id was one of the largest costs per bet, in producing it and in
replaying it at recovery, so the entries one jackpot batch adds to one bucket travel as one
record, a *pack*, under ``bucket | jackpot_id NUL 0x01 "pack:" first bet_id`` (no bet id starts
with 0x01).  The local store keeps the pack and its entries one by one (marked as packed, so
expiry sends one tombstone per pack, not per entry); recovery expands each pack it reads
(:class:`BetIdsTable`).  Entries written one record each by earlier versions are still read and
expired.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, Callable

import faust

from jackpot.engine.money import to_micros
from jackpot.settings import Settings
from jackpot.tables.store import bytes_table

TABLE_NAME = "bet-ids"
SLICES = 4  # the horizon is cut into this many buckets
SEP = b"\x00"
NEW, REPLAY, RESEND, CONFLICT = "new", "replay", "resend", "conflict"
_BUCKET = struct.Struct(">Q")
_ENTRY = struct.Struct(">iq16s")  # bets partition, bets offset, content fingerprint
PACK = b"\x01pack:"
PACKED = b"\x01"  # appended to an entry stored locally from a pack: its pack's tombstone covers it
_ID_LEN = struct.Struct(">H")
# entries per pack: at most a few hundred KB (a bet id is at most a few hundred bytes), under the
# broker's 1 MB message limit however many bets one jackpot batch holds
PACK_MAX = 2000

Send = Callable[[int, bytes, bytes | None], Any]


def fingerprint(req: dict) -> bytes:
    """What makes two copies of a bet the same bet: every field the provider sent."""
    parts = (req["bet_id"], req["player_id"], req["game_id"], req["brand_id"], req["currency"],
             str(to_micros(req["bet_amount"])), req["bet_type"], req["session_id"],
             str(_ms(req["bet_timestamp"])))
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()


def _ms(ts: Any) -> int:
    return int(ts.timestamp() * 1000) if hasattr(ts, "timestamp") else int(ts)


def command_key(command_id: str) -> str:
    """The table id of an operator command: a NUL first, which no bet id has (bet ids are UUIDs)."""
    return "\x00command:" + command_id


def entry_key(bucket: int, jackpot_key: bytes, bet_id: str) -> bytes:
    return _BUCKET.pack(bucket) + jackpot_key + SEP + bet_id.encode()


def bucket_of(key: bytes) -> int:
    return _BUCKET.unpack_from(key)[0]


def pack_key(bucket: int, jackpot_key: bytes, first_bet_id: str) -> bytes:
    return _BUCKET.pack(bucket) + jackpot_key + SEP + PACK + first_bet_id.encode()


def is_pack(key: bytes) -> bool:
    return SEP + PACK in key


def encode_pack(entries: list[tuple[str, bytes]]) -> bytes:
    """Bet ids and their entries, each id length-prefixed."""
    out = []
    for bet_id, entry in entries:
        raw = bet_id.encode()
        out.append(_ID_LEN.pack(len(raw)) + raw + entry)
    return b"".join(out)


def decode_pack(key: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    """The (entry key, entry) pairs of a pack stored under ``key``."""
    head = key[:key.index(SEP + PACK) + 1]  # bucket | jackpot_id NUL
    pairs, i, size = [], 0, _ENTRY.size
    while i < len(value):
        (n,) = _ID_LEN.unpack_from(value, i)
        i += _ID_LEN.size
        pairs.append((head + value[i:i + n], value[i + n:i + n + size]))
        i += n + size
    return pairs


def restore(db: Any, key: bytes, value: bytes | None) -> None:
    """Apply one changelog record to a local store: a pack also stores its entries."""
    if value is None:
        db.delete(key)
        return
    db.put(key, value)
    if is_pack(key):
        for entry_key_, entry in decode_pack(key, value):
            db.put(entry_key_, entry + PACKED)


def verdict(stored: bytes, partition: int, offset: int, fp: bytes) -> str:
    """What a request at (``partition``, ``offset``) with content ``fp`` is, given the entry found."""
    p, o, seen = _ENTRY.unpack_from(stored)
    if (p, o) == (partition, offset):
        return REPLAY
    return RESEND if seen == fp else CONFLICT


class BetIds:
    """Lookups and writes on one worker's partitions of the table (the local RocksDB of a
    partition used directly, every write also sent to the changelog, as tables/activity.py)."""

    def __init__(self, table: faust.Table, horizon_ms: int, send: Send | None = None) -> None:
        self.table = table
        self.bucket_ms = max(1, horizon_ms // SLICES)
        # (partition, key, value) -> the changelog (tables/changelog.py; Faust's own by default)
        self.send = send or table.send_changelog

    def _db(self, partition: int) -> Any:
        return self.table.data._db_for_partition(partition)

    def batch(self, partition: int, jackpot_key: bytes) -> "JackpotBetIds":
        return JackpotBetIds(self, partition, jackpot_key)

    def expire(self, partition: int, now_ms: int, limit: int = 20_000) -> int:
        """Delete up to ``limit`` keys of buckets past the horizon; return how many.  Only what
        the changelog holds gets a tombstone: packs, and entries written one record each."""
        db = self._db(partition)
        oldest_kept = now_ms // self.bucket_ms - SLICES - 1
        doomed = []
        for key, value in db.items():
            if len(doomed) >= limit or bucket_of(key) >= oldest_kept:
                break
            doomed.append((key, value))
        for key, value in doomed:
            db.delete(key)
            if is_pack(key) or len(value) == _ENTRY.size:
                self.send(partition, key, None)
        return len(doomed)


class JackpotBetIds:
    """One jackpot's lookups during one batch; the new entries are written with its checkpoint."""

    def __init__(self, store: BetIds, partition: int, jackpot_key: bytes) -> None:
        self.store = store
        self.partition = partition
        self.key = jackpot_key
        self.pending: dict[str, tuple[bytes, bytes]] = {}  # bet_id -> (key, entry) not written yet

    def check(self, req: dict, received_ms: int) -> str:
        """Classify the contribution request ``req`` (NEW, REPLAY, RESEND or CONFLICT); a NEW one
        is remembered, to be written by :meth:`write`."""
        return self.check_id(str(req["bet_id"]), (int(req["source_partition"]), int(req["source_offset"])),
                             fingerprint(req), received_ms)

    def check_id(self, bet_id: str, where: tuple[int, int], fp: bytes, received_ms: int) -> str:
        """The same classification for any input id seen at ``where`` with content ``fp`` (operator
        commands use it too, under ids no bet can have: see ``command_key``)."""
        found = self.pending.get(bet_id)
        stored = found[1] if found else self._lookup(bet_id, received_ms)
        if stored is not None:
            return verdict(stored, *where, fp)
        bucket = received_ms // self.store.bucket_ms
        self.pending[bet_id] = (entry_key(bucket, self.key, bet_id), _ENTRY.pack(*where, fp))
        return NEW

    def first_seen(self, bet_id: str, received_ms: int) -> tuple[int, int] | None:
        """The bets (partition, offset) where ``bet_id`` was first seen, if it was."""
        found = self.pending.get(bet_id)
        stored = found[1] if found else self._lookup(bet_id, received_ms)
        return _ENTRY.unpack_from(stored)[:2] if stored is not None else None

    def _lookup(self, bet_id: str, received_ms: int) -> bytes | None:
        db = self.store._db(self.partition)
        bucket = received_ms // self.store.bucket_ms
        # one bucket ahead too: bets reach a jackpot from several bets partitions, not in time order
        for b in range(bucket + 1, max(-1, bucket - SLICES - 1), -1):
            raw = db.get(entry_key(b, self.key, bet_id))
            if raw is not None:
                return raw
        return None

    def write(self) -> list:
        """Write the new entries locally and, one pack per bucket, to the changelog; return the
        delivery futures."""
        db, sent = self.store._db(self.partition), []
        by_bucket: dict[int, list[tuple[str, bytes]]] = {}
        for bet_id, (key, entry) in self.pending.items():
            by_bucket.setdefault(bucket_of(key), []).append((bet_id, entry))
        for bucket, entries in by_bucket.items():
            for start in range(0, len(entries), PACK_MAX):  # a hot jackpot's batch: many packs
                chunk = entries[start:start + PACK_MAX]
                key, value = pack_key(bucket, self.key, chunk[0][0]), encode_pack(chunk)
                restore(db, key, value)
                sent.append(self.store.send(self.partition, key, value))
        self.pending.clear()
        return sent


class BetIdsTable(faust.Table):
    """The bet-ids table: recovery (and a standby) expands each pack into its entries."""

    def apply_changelog_batch(self, batch: Any) -> None:
        """Expand the packs before Faust writes the batch: its store persists the partition's
        changelog offset right after it, and a restart resumes from there, so a pack whose
        entries were not yet stored when the process died would never be expanded (its bet ids
        would look new to a provider's resend)."""
        events = list(batch)
        for event in events:
            msg = event.message
            if msg.value is not None and is_pack(msg.key):
                restore(self.data._db_for_partition(msg.partition), msg.key, msg.value)
        super().apply_changelog_batch(events)


def bet_ids_table(app: faust.App, settings: Settings) -> faust.Table:
    return bytes_table(app, settings, TABLE_NAME,
                       "Bet ids seen per jackpot within the dedup horizon (single writer: the jackpot agent).",
                       table_class=BetIdsTable)
