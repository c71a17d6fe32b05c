"""Many small records of one jackpot in one Kafka message.

Producing, fetching and dispatching a message costs more than applying or booking one bet, so
the per-bet records that flow between our own processes (the router's contribution requests,
the jackpot agent's ledger entries) travel in batches: one message per jackpot per agent batch.
Batches are written compact (streams/compact.py: rows of plain values, columns named by the
item's Avro schema); Avro batches, whose items each kept their own encoding, and lone item
messages, as written before, are still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator

from jackpot.engine.events import event_id
from jackpot.streams import compact
from jackpot.streams.codec import DecodeError, load_schemas


@dataclass(frozen=True)
class Framing:
    """A batch schema (``batch``) whose ``field`` holds encoded ``item`` records."""

    batch: str
    item: str
    field: str

    @cached_property
    def columns(self) -> compact.Columns:
        """The item schema's fields as compact columns."""
        return compact.Columns(load_schemas()[0][self.item]["fields"])

    def batch_id(self, jackpot_id: str, ids: tuple[str, str], count: int) -> str:
        """From the first and last item's event ids, so the same items always make the same batch
        id (a replay re-sends the same id)."""
        first, last = ids
        return event_id(self.batch, jackpot_id, None, None, f"{first}:{last}:{count}")

    def pack(self, jackpot_id: str, rows: list[list], ids: tuple[str, str], latest_ms: int) -> bytes:
        """One compact batch message of rows made by ``columns.row``."""
        return compact.pack(self.batch, self.batch_id(jackpot_id, ids, len(rows)), latest_ms, jackpot_id,
                            self.columns.header(), rows)

    def decode(self, codec: Any, value: bytes | None, expect: Any = None) -> tuple[str, dict]:
        """``codec.decode``, which also reads this framing's compact batches (``expect`` names the
        schemas the caller accepts; the batch schema must be among them)."""
        if not compact.is_compact(value):
            return codec.decode(value, expect=expect if expect is not None else (self.batch, self.item))
        unpacked = compact.Unpacked.parse(bytes(value))
        accepted = (expect,) if isinstance(expect, str) else expect
        if unpacked.batch != self.batch or (accepted is not None and self.batch not in accepted):
            raise DecodeError(f"a compact {unpacked.batch} where {self.batch} was expected")
        return self.batch, {**unpacked.envelope(), self.field: unpacked}

    def unpack(self, codec: Any, name: str, record: dict) -> Iterator[tuple[bytes | None, dict | DecodeError]]:
        """The items of a decoded message, in order: ``(raw, item)``, or ``(raw, DecodeError)`` for
        an item that does not decode (``raw`` is None for a lone item message); nothing for a
        message of another kind (the contributions topic also carries commands and clock ticks)."""
        if name != self.batch:
            if name == self.item:
                yield None, record
            return
        items = record[self.field]
        if isinstance(items, compact.Unpacked):
            yield from items.items(self.columns)
            return
        for raw in items:
            try:
                _, item = codec.decode(raw, expect=self.item)
            except DecodeError as exc:
                yield raw, exc
            else:
                yield raw, item

    def items_in(self, codec: Any, value: bytes) -> list[dict]:
        """Every item of one message (none for a message of another kind); raises
        :class:`DecodeError` if any does not decode."""
        name, record = self.decode(codec, value) if compact.is_compact(value) else codec.decode(value)
        out = []
        for _, item in self.unpack(codec, name, record):
            if isinstance(item, DecodeError):
                raise item
            out.append(item)
        return out


class Collector:
    """Items of one agent batch grouped by the jackpot each names, in the order they were added,
    each turned into its compact row as it is added (a record that cannot be written fails there)."""

    def __init__(self, framing: Framing) -> None:
        self.framing = framing
        self._row = framing.columns.row
        self._items: dict[str, list[tuple[list, str, int]]] = {}  # jackpot -> (row, event id, epoch ms)

    def add(self, record: dict) -> None:
        self._items.setdefault(record["jackpot_id"], []).append(
            (self._row(record), str(record["event_id"]), compact.epoch_ms(record["timestamp"])))

    def __len__(self) -> int:
        return sum(len(items) for items in self._items.values())

    def drain(self) -> Iterator[tuple[bytes, bytes, int]]:
        """``(key, value, items)`` per message, emptying the collector: one message per jackpot,
        or several in order when its items would make a message too large for the broker (the
        jackpot agent's batch can hold hundreds of router batches of one hot jackpot)."""
        for jackpot_id, items in self._items.items():
            for start in range(0, len(items), MAX_BATCH_ITEMS):
                yield from self._bounded(jackpot_id, items[start:start + MAX_BATCH_ITEMS])
        self._items = {}

    def _bounded(self, jackpot_id: str, items: list[tuple[list, str, int]]) -> Iterator[tuple[bytes, bytes, int]]:
        value = self.framing.pack(jackpot_id, [row for row, _, _ in items], (items[0][1], items[-1][1]),
                                  max(ms for _, _, ms in items))
        if len(value) <= MAX_BATCH_BYTES or len(items) == 1:
            yield jackpot_id.encode(), value, len(items)
            return
        half = len(items) // 2
        yield from self._bounded(jackpot_id, items[:half])
        yield from self._bounded(jackpot_id, items[half:])


# A batch message's bounds: the broker refuses a record batch over its max.message.bytes (1 MB by
# default, compressed); half of it uncompressed always fits.
MAX_BATCH_ITEMS = 1000
MAX_BATCH_BYTES = 512 * 1024


# The router's contribution requests: one message per jackpot per router batch, in bets-offset
# order (the jackpot agent still applies and deduplicates each request on its own).
CONTRIBUTIONS = Framing(batch="ContributionBatch", item="ContributionRequest", field="requests")
# The jackpot agent's ledger: one message of ContributionApplied entries per jackpot per batch.
LEDGER = Framing(batch="ContributionAppliedBatch", item="ContributionApplied", field="entries")

FRAMINGS = {f.batch: f for f in (CONTRIBUTIONS, LEDGER)}


def decode_message(codec: Any, value: bytes | None) -> tuple[str, dict]:
    """Any message of our topics: ``codec.decode``, or the framing of a compact batch."""
    if compact.is_compact(value):
        name = compact.Unpacked.parse(bytes(value)).batch
        framing = FRAMINGS.get(name)
        if framing is None:
            raise DecodeError(f"a compact batch of unknown kind {name!r}")
        return framing.decode(codec, value)
    return codec.decode(value)
