"""The active-player window of each jackpot, stored one entry per player.

A flagship jackpot's window holds thousands of players.  Kept inside the jackpot's table value,
it was rewritten whole on every checkpoint: megabytes per batch, which bounded throughput.
Here a checkpoint writes only the players it changed (``JackpotState.activity_changes``).

Consistency with the jackpot value.  A checkpoint writes its entries, waits until the broker
has them, and only then writes the jackpot value; and it waits for that value to be durable
before the next checkpoint writes entries.  A crash can therefore leave entries one checkpoint
ahead of the value, never behind and never two ahead.  So every entry keeps two versions, each
stamped with the jackpot sequence of the checkpoint that wrote it: the current one and the one
it replaced.  Loading a jackpot whose value has sequence R takes, per player, the version
stamped at or below R.  The replay of the inputs after R then rewrites what changed, and an
entry found ahead is rewritten at the next checkpoint whatever the replay does.

Order.  The window is kept in order of last touch (pruning walks it from the oldest end), so
each version carries an order stamp from a counter kept in the jackpot value; loading sorts by
it.  A player who leaves the window is first written as an empty version (a replay from before
still sees the player) and deleted for good by the next checkpoint.

Entries live in their jackpot's partition, under ``jackpot_id NUL currency NUL player_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import faust

from jackpot.settings import Settings
from jackpot.tables.jackpots import dump_json, load_json
from jackpot.tables.store import bytes_table

TABLE_NAME = "jackpot-activity"
SEP = b"\x00"

Version = tuple[int, int, Any]  # (jackpot sequence, order stamp, record or None when gone)
ABSENT: Version = (0, 0, None)


def prefix(jackpot_key: bytes) -> bytes:
    return jackpot_key + SEP


def entry_key(jackpot_key: bytes, currency: str, player_id: str) -> bytes:
    return prefix(jackpot_key) + currency.encode() + SEP + player_id.encode()


def split_key(key: bytes, jackpot_key: bytes) -> tuple[str, str]:
    currency, _, player = key[len(jackpot_key) + 1:].partition(SEP)
    return currency.decode(), player.decode()


def encode_entry(current: Version, previous: Version) -> bytes:
    return dump_json([*current, *previous])


def decode_entry(raw: bytes) -> tuple[Version, Version]:
    doc = load_json(raw)
    return (doc[0], doc[1], doc[2]), (doc[3], doc[4], doc[5])


def as_of(raw: bytes, durable: int) -> tuple[Version, bool]:
    """The version of an entry that a jackpot value of sequence ``durable`` includes, and
    whether the entry is ahead of that value (written by a checkpoint that never completed)."""
    current, previous = decode_entry(raw)
    if current[0] <= durable:
        return current, False
    return (previous if previous[0] <= durable else ABSENT), True


@dataclass
class Window:
    """A jackpot's window as loaded, plus the entries the next checkpoint must rewrite or delete."""

    activity: dict[str, dict[str, list]] = field(default_factory=dict)
    ahead: dict[tuple[str, str], int] = field(default_factory=dict)  # entries ahead of the value -> stamp
    gone: list[bytes] = field(default_factory=list)  # empty versions the value already includes


def assemble(items: Iterable[tuple[bytes, bytes]], jackpot_key: bytes, durable: int) -> Window:
    """The window a jackpot value of sequence ``durable`` includes, from its entries."""
    found: dict[str, list[tuple[int, str, list]]] = {}
    window = Window()
    for key, raw in items:
        currency, player = split_key(key, jackpot_key)
        (_, stamp, rec), ahead = as_of(raw, durable)
        if ahead:
            window.ahead[(currency, player)] = stamp
        if rec is None:
            if not ahead:
                window.gone.append(key)
            continue
        found.setdefault(currency, []).append((stamp, player, rec))
    for currency, rows in found.items():
        rows.sort(key=lambda r: r[0])
        window.activity[currency] = {player: rec for _, player, rec in rows}
    return window


def write_changes(db: Any, send: Callable[[bytes, bytes | None], Any], jackpot_key: bytes,
                  state: Any, record: Any) -> list:
    """Write the window entries changed since the last checkpoint to ``db`` (the partition's
    local store) and through ``send`` (its changelog); return what ``send`` returned.

    ``record`` is the jackpot value about to be persisted: its ``sequence`` stamps the new
    versions, ``durable`` is the sequence of the last value known durable, ``activity_stamp``
    hands out order stamps, and ``activity_gone`` / ``activity_ahead`` carry the entries left
    to delete or rewrite.
    """
    sent = []

    def put(key: bytes, value: bytes | None) -> None:
        if value is None:
            db.delete(key)
        else:
            db.put(key, value)
        sent.append(send(key, value))

    for key in record.activity_gone:  # the value that left them out is durable now
        put(key, None)
    record.activity_gone = []
    # touched players get new order stamps, in the order they were last touched; an entry
    # found ahead at load and not touched since is rewritten with the stamp it had then
    touched = state.activity_changes
    todo = [(c, p, None) for c, p in touched]
    todo += [(c, p, stamp) for (c, p), stamp in record.activity_ahead.items() if (c, p) not in touched]
    touched.clear()
    record.activity_ahead = {}
    for currency, player, stamp in todo:
        key = entry_key(jackpot_key, currency, player)
        rec = state.activity.get(currency, {}).get(player)
        old = db.get(key)
        previous = as_of(old, record.durable)[0] if old is not None else ABSENT
        if rec is None:
            if previous[2] is None:  # came and went between two checkpoints
                if old is not None:
                    put(key, None)
                continue
            stamp = 0
            record.activity_gone.append(key)
        elif stamp is None:
            record.activity_stamp += 1
            stamp = record.activity_stamp
        put(key, encode_entry((record.sequence, stamp, rec), previous))
    return sent


def scan(db: Any, jackpot_key: bytes) -> Iterator[tuple[bytes, bytes]]:
    """A jackpot's entries in a partition's local store, in key order."""
    start = prefix(jackpot_key)
    for key, value in db.items(from_key=start):
        if not key.startswith(start):
            return
        yield key, value


class ActivityStore:
    """The entries of the jackpots in one worker's partitions: the local RocksDB of a partition
    is used directly (Faust would pick it from the task's current event), and every write also
    goes to the changelog, as Faust's own table writes do."""

    def __init__(self, table: faust.Table, send: Callable[[int, bytes, bytes | None], Any] | None = None) -> None:
        self.table = table
        # (partition, key, value) -> the changelog (tables/changelog.py; Faust's own by default)
        self.send = send or table.send_changelog

    def _db(self, partition: int) -> Any:
        return self.table.data._db_for_partition(partition)

    def load(self, partition: int, jackpot_key: bytes, durable: int) -> Window:
        return assemble(scan(self._db(partition), jackpot_key), jackpot_key, durable)

    def write(self, partition: int, jackpot_key: bytes, state: Any, record: Any) -> list:
        return write_changes(self._db(partition), lambda k, v: self.send(partition, k, v),
                             jackpot_key, state, record)


def activity_table(app: faust.App, settings: Settings) -> faust.Table:
    return bytes_table(app, settings, TABLE_NAME,
                       "Active-player window entries per jackpot and player (single writer: the jackpot agent).")
