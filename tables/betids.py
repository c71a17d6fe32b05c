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
record, a *pack*, under ``bucket | jackpot_id NUL 0x01 "pack:" digest`` (no bet id starts
with 0x01; earlier versions named a pack by its first bet id).  The local store keeps the pack
and its entries one by one (marked as packed, so expiry sends one tombstone per pack, not per
entry); recovery expands each pack it reads
(:class:`BetIdsTable`).  Entries written one record each by earlier versions are still read and
expired.

Merging.  A pack per jackpot per save is still a record per save: a jackpot with bets all day
left some 500,000 small packs over the horizon for a take-over to restore.  So once a jackpot's
bucket holds ``MERGE_AT`` small packs, the next save merges them: full packs of ``PACK_MAX``
entries (``bucket | jackpot_id NUL 0x01 "full:" digest``, never merged again) and one small
remainder, sent before the tombstones of the packs they replace.  A compacted changelog then
holds about one record per ``PACK_MAX`` bet ids plus fewer than ``MERGE_AT`` small packs per
jackpot and bucket.  Every entry stays covered by a live pack, and packs are named by their
content, so a store that misses a tombstone (a restore read after compaction dropped it, a worker
given back a partition it had before) holds a stale pack whose entries a live one also holds,
and merging it only adds another pack (its tombstone for the stale one repeats one already
sent): the bet-ids changelog can keep tombstones briefly.  A merge whose records are dropped
with an unsaved batch (membership lost) leaves its small packs live in the changelog though gone
here; the next owner restoring them expires them with their bucket.
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
PACK = b"\x01pack:"  # a small pack: merged with its jackpot's others in the bucket
FULL = b"\x01full:"  # a pack of PACK_MAX entries: left alone until its bucket expires
PACKED = b"\x01"  # appended to an entry stored locally from a pack: its pack's tombstone covers it
_ID_LEN = struct.Struct(">H")
# entries per pack: at most a few hundred KB (a bet id is at most a few hundred bytes), under the
# broker's 1 MB message limit however many bets one jackpot batch holds
PACK_MAX = 2000
MERGE_AT = 32  # small packs of one jackpot and bucket that make the next save merge them
MERGE_MAX = 4 * PACK_MAX  # entries one merge rewrites at most (a backlog takes several saves)

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


def pack_key(bucket: int, jackpot_key: bytes, value: bytes, kind: bytes = PACK) -> bytes:
    """A pack's key names its content (a digest), so no pack ever replaces another with other
    entries: a merge on a store that missed some tombstones (a restore after compaction, a worker
    given its partition back) must add packs to the changelog, not overwrite newer ones."""
    return _BUCKET.pack(bucket) + jackpot_key + SEP + kind + hashlib.blake2b(value, digest_size=12).hexdigest().encode()


def small_packs_prefix(bucket: int, jackpot_key: bytes) -> bytes:
    return _BUCKET.pack(bucket) + jackpot_key + SEP + PACK


def is_pack(key: bytes) -> bool:
    return SEP + PACK in key or SEP + FULL in key


def encode_pack(entries: list[tuple[bytes, bytes]]) -> bytes:
    """Bet ids (encoded) and their entries, each id length-prefixed."""
    return b"".join(_ID_LEN.pack(len(raw)) + raw + entry for raw, entry in entries)


def pack_items(value: bytes) -> list[tuple[bytes, bytes]]:
    """The (bet id, entry) pairs of a pack."""
    pairs, i, size = [], 0, _ENTRY.size
    while i < len(value):
        (n,) = _ID_LEN.unpack_from(value, i)
        i += _ID_LEN.size
        pairs.append((value[i:i + n], value[i + n:i + n + size]))
        i += n + size
    return pairs


def decode_pack(key: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    """The (entry key, entry) pairs of a pack stored under ``key``."""
    head = key[:key.index(SEP + b"\x01", _BUCKET.size) + 1]  # bucket | jackpot_id NUL
    return [(head + raw, entry) for raw, entry in pack_items(value)]


def packed(bucket: int, jackpot_key: bytes, entries: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``entries`` as packs (key, value): full ones of PACK_MAX entries, the rest in a small one."""
    out = []
    for start in range(0, len(entries), PACK_MAX):
        chunk = entries[start:start + PACK_MAX]
        value = encode_pack(chunk)
        out.append((pack_key(bucket, jackpot_key, value, FULL if len(chunk) == PACK_MAX else PACK), value))
    return out


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
        # small packs written per (partition, bucket, jackpot) since its last merge; unknown
        # (after a start or a restore) counts as none, so merges after a start spread out (each
        # takes the packs from before it too)
        self.small: dict[tuple[int, int, bytes], int] = {}

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
        for where in [w for w in self.small if w[0] == partition and w[1] < oldest_kept]:
            del self.small[where]
        return len(doomed)

    def added_small_pack(self, partition: int, bucket: int, jackpot_key: bytes) -> None:
        """Count a new small pack; merge the bucket's small packs once there are enough."""
        where = (partition, bucket, jackpot_key)
        count = self.small.get(where, 0) + 1
        if count < MERGE_AT:
            self.small[where] = count
            return
        self.small[where] = self.merge(partition, bucket, jackpot_key)

    def merge(self, partition: int, bucket: int, jackpot_key: bytes) -> int:
        """Rewrite the small packs of one jackpot and bucket as full packs and one small rest
        (at most MERGE_MAX entries at a time); return the small packs left (MERGE_AT or more:
        more to merge).  The new packs are sent before the tombstones of the old ones, so the
        changelog never lacks an entry; an old key the merge produces again (the same content)
        is kept, not deleted."""
        db, prefix = self._db(partition), small_packs_prefix(bucket, jackpot_key)
        old, entries, more = [], [], False
        for key, value in db.items(from_key=prefix):
            if not key.startswith(prefix):
                break
            if len(entries) >= MERGE_MAX:
                more = True
                break
            old.append(key)
            entries.extend(pack_items(value))
        if len(old) < 2:
            return len(old)
        new = packed(bucket, jackpot_key, entries)
        for key, value in new:
            db.put(key, value)  # its entries are stored already
            self.send(partition, key, value)
        kept = {key for key, _ in new}
        for key in old:
            if key not in kept:
                db.delete(key)
                self.send(partition, key, None)
        left = sum(1 for key, _ in new if key.startswith(prefix))
        return MERGE_AT if more else left


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

    def write(self) -> None:
        """Write the new entries locally and, packed per bucket, to the changelog (merging the
        bucket's small packs when enough have gathered)."""
        db = self.store._db(self.partition)
        by_bucket: dict[int, list[tuple[bytes, bytes]]] = {}
        for bet_id, (key, entry) in self.pending.items():
            by_bucket.setdefault(bucket_of(key), []).append((bet_id.encode(), entry))
        for bucket, entries in by_bucket.items():
            packs = packed(bucket, self.key, entries)  # a hot jackpot's batch: full packs too
            for key, value in packs:
                restore(db, key, value)
                self.store.send(self.partition, key, value)
            if len(entries) % PACK_MAX:
                self.store.added_small_pack(self.partition, bucket, self.key)
        self.pending.clear()


class BetIdsTable(faust.Table):
    """The bet-ids table: recovery (and a standby) expands each pack into its entries."""

    def apply_changelog_batch(self, batch: Any) -> None:
        """Expand the packs before Faust writes the batch: its store persists the partition's
        changelog offset right after it, and a restart resumes from there, so a pack whose
        entries were not yet stored when the process died would never be expanded (its bet ids
        would look new to a provider's resend).

        Only each pack key's last record in the batch is expanded, and not at all if it is a
        tombstone: a merge sends the packs that hold a small pack's entries before that pack's
        tombstone, so the entries come with them (once, not once per merge)."""
        events = list(batch)
        last: dict[tuple[int, bytes], bytes | None] = {}
        for event in events:
            msg = event.message
            if is_pack(msg.key):
                last[(msg.partition, msg.key)] = msg.value
        for (partition, key), value in last.items():
            if value is not None:
                restore(self.data._db_for_partition(partition), key, value)
        super().apply_changelog_batch(events)


# Tombstones (of merged packs, mostly) kept ten minutes, not an hour: a restore that misses one
# keeps a pack whose entries a live pack also holds (see "Merging" above), or one of an expired
# bucket that the next expiry deletes again.
TOMBSTONES_KEPT_MS = 10 * 60 * 1000


def bet_ids_table(app: faust.App, settings: Settings) -> faust.Table:
    return bytes_table(app, settings, TABLE_NAME,
                       "Bet ids seen per jackpot within the dedup horizon (single writer: the jackpot agent).",
                       table_class=BetIdsTable, **{"delete.retention.ms": str(TOMBSTONES_KEPT_MS)})
