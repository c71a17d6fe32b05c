"""Many small records of one jackpot in one Kafka message.

Producing, fetching and dispatching a message costs more than applying or booking one bet, so
the per-bet records that flow between our own processes (the router's contribution requests,
the jackpot agent's ledger entries) travel in batches: one message per jackpot per agent batch.
Each item keeps its own encoding (single-object or Confluent framing, with its own schema), so
it still evolves on its own; the batch only adds an envelope. A lone item message, as written
before batching, is still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from jackpot.engine.events import event_id
from jackpot.streams.codec import DecodeError


@dataclass(frozen=True)
class Framing:
    """A batch schema (``batch``) whose ``field`` holds encoded ``item`` records."""

    batch: str
    item: str
    field: str

    def pack(self, codec: Any, jackpot_id: str, items: list[bytes], ids: tuple[str, str], latest: Any) -> bytes:
        """One batch message; ``ids`` are the first and last item's event ids, so the same items
        always make the same batch id (a replay re-sends the same id)."""
        first, last = ids
        return codec.encode(self.batch, {
            "event_id": event_id(self.batch, jackpot_id, None, None, f"{first}:{last}:{len(items)}"),
            "timestamp": latest,
            "jackpot_id": jackpot_id,
            self.field: items,
        })

    def unpack(self, codec: Any, name: str, record: dict) -> Iterator[tuple[bytes | None, dict | DecodeError]]:
        """The items of a decoded message, in order: ``(raw, item)``, or ``(raw, DecodeError)`` for
        an item that does not decode (``raw`` is None for a lone item message)."""
        if name != self.batch:
            yield None, record
            return
        for raw in record[self.field]:
            try:
                _, item = codec.decode(raw, expect=self.item)
            except DecodeError as exc:
                yield raw, exc
            else:
                yield raw, item

    def items_in(self, codec: Any, value: bytes) -> list[dict]:
        """Every item of one message; raises :class:`DecodeError` if any does not decode."""
        name, record = codec.decode(value, expect=(self.batch, self.item))
        out = []
        for _, item in self.unpack(codec, name, record):
            if isinstance(item, DecodeError):
                raise item
            out.append(item)
        return out


class Collector:
    """Items of one agent batch grouped by the jackpot each names, in the order they were added."""

    def __init__(self, codec: Any, framing: Framing) -> None:
        self.codec, self.framing = codec, framing
        self._items: dict[str, list[bytes]] = {}
        self._ids: dict[str, tuple[str, str]] = {}
        self._latest: dict[str, Any] = {}

    def add(self, record: dict) -> None:
        jackpot_id = record["jackpot_id"]
        items = self._items.setdefault(jackpot_id, [])
        items.append(self.codec.encode(self.framing.item, record))
        first = self._ids[jackpot_id][0] if len(items) > 1 else record["event_id"]
        self._ids[jackpot_id] = (first, record["event_id"])
        latest = self._latest.get(jackpot_id)
        self._latest[jackpot_id] = record["timestamp"] if latest is None else max(latest, record["timestamp"])

    def __len__(self) -> int:
        return sum(len(items) for items in self._items.values())

    def drain(self) -> Iterator[tuple[bytes, bytes, int]]:
        """``(key, value, items)`` per jackpot, emptying the collector."""
        for jackpot_id, items in self._items.items():
            value = self.framing.pack(self.codec, jackpot_id, items, self._ids[jackpot_id], self._latest[jackpot_id])
            yield jackpot_id.encode(), value, len(items)
        self._items, self._ids, self._latest = {}, {}, {}


# The router's contribution requests: one message per jackpot per router batch, in bets-offset
# order (the jackpot agent still applies and deduplicates each request on its own).
CONTRIBUTIONS = Framing(batch="ContributionBatch", item="ContributionRequest", field="requests")
# The jackpot agent's ledger: one message of ContributionApplied entries per jackpot per batch.
LEDGER = Framing(batch="ContributionAppliedBatch", item="ContributionApplied", field="entries")
