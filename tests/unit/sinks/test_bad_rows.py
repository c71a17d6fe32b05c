"""A row PostgreSQL refuses as bad data is isolated and handed back once, the rest of its batch is
written, and an outage is still retried: the ledger sink retried a row with a NUL forever."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import asyncpg
import pytest

from jackpot.sinks import ledger
from jackpot.sinks.ledger import write_with_retry
from jackpot.sinks.service import dead_letter_rows, unbatched_items
from jackpot.streams.batches import LEDGER
from jackpot.streams.codec import catalog


class FakeWriter:
    """Refuses any batch holding a bad row, as PostgreSQL refuses the whole COPY."""

    def __init__(self, outages: int = 0, outage_after: int = 0) -> None:
        self.rows: set[str] = set()
        self.writes = 0
        self.outages, self.outage_after = outages, outage_after
        self.closed = 0

    async def write(self, events: list[dict]) -> int:
        self.writes += 1
        if self.outages and self.writes > self.outage_after:
            self.outages -= 1
            raise ConnectionRefusedError("PostgreSQL is down")
        for e in events:
            if "\x00" in e["player_id"]:
                raise asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
            if e.get("amount", 0) >= 10**14:
                raise asyncpg.NumericValueOutOfRangeError("numeric field overflow")
            if e.get("amount", 0) < 0:
                raise asyncpg.CheckViolationError("violates check constraint")
        new = {e["event_id"] for e in events} - self.rows
        self.rows |= new
        return len(new)

    async def close(self) -> None:
        self.closed += 1


def rows(n: int, bad: dict[int, dict]) -> list[dict]:
    return [{"event_id": f"e{i}", "player_id": "p", "amount": 1} | bad.get(i, {}) for i in range(n)]


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    real = asyncio.sleep

    async def sleep(s: float) -> None:
        await real(0)

    monkeypatch.setattr(ledger.asyncio, "sleep", sleep)


async def test_bad_rows_are_handed_back_once_and_the_rest_is_written():
    events = rows(200, {7: {"player_id": "p\x00"}, 150: {"amount": 10**15}, 151: {"amount": -1}})
    refused: list[tuple[int, str]] = []

    async def on_bad(index: int, exc: Exception) -> None:
        refused.append((index, type(exc).__name__))

    writer = FakeWriter()
    n = await asyncio.wait_for(write_with_retry(writer, events, on_bad=on_bad), timeout=5)
    assert n == 197 and writer.rows == {f"e{i}" for i in range(200)} - {"e7", "e150", "e151"}
    assert sorted(refused) == [(7, "CharacterNotInRepertoireError"), (150, "NumericValueOutOfRangeError"),
                               (151, "CheckViolationError")]
    assert writer.writes < 60  # halving, not one write per row


@pytest.mark.parametrize("after", [1, 8, 9, 12])  # before, around and after the bad row is found
async def test_an_outage_during_isolation_is_retried_and_rows_are_not_reported_twice(after):
    events = rows(64, {3: {"player_id": "\x00"}})
    refused: list[int] = []
    outages: list[Exception] = []

    async def on_bad(index: int, exc: Exception) -> None:
        refused.append(index)

    async def on_outage(exc: Exception) -> None:
        outages.append(exc)

    writer = FakeWriter(outages=3, outage_after=after)  # PostgreSQL goes away in the middle of the halving
    await asyncio.wait_for(write_with_retry(writer, events, on_outage=on_outage, on_bad=on_bad), timeout=5)
    assert writer.rows == {f"e{i}" for i in range(64)} - {"e3"}
    assert refused == [3] and len(outages) == 1 and writer.closed == 3


async def test_without_on_bad_the_row_is_logged_and_skipped(caplog):
    writer = FakeWriter()
    n = await asyncio.wait_for(write_with_retry(writer, rows(3, {1: {"player_id": "\x00"}})), timeout=5)
    assert n == 2
    assert "row refused by PostgreSQL as bad data; skipped" in caplog.text


async def test_other_errors_are_still_retried_until_they_pass():
    calls = [0]

    class Flaky(FakeWriter):
        async def write(self, events):
            calls[0] += 1
            if calls[0] < 3:
                raise asyncpg.UniqueViolationError("a concurrent writer")
            return await super().write(events)

    assert await asyncio.wait_for(write_with_retry(Flaky(), rows(5, {})), timeout=5) == 5
    assert calls[0] == 3


async def test_the_sinks_dead_letter_the_refused_item_itself(monkeypatch):
    """``unbatched_items`` keeps each item's bytes; ``dead_letter_rows`` dead-letters that item."""
    codec = catalog()
    from tests.unit.avro.samples import sample, schemas

    item = sample(schemas()["ContributionApplied"], "ContributionApplied")
    raws = [codec.encode("ContributionApplied", item | {"player_id": f"p{i}"}) for i in range(3)]
    batch = sample(schemas()["ContributionAppliedBatch"], "ContributionAppliedBatch")
    batch[LEDGER.field] = raws
    msg = SimpleNamespace(topic="t.ledger", partition=1, offset=9, key=b"jp", value=b"whole batch", headers=[])
    name, record = codec.decode(codec.encode("ContributionAppliedBatch", batch))
    sent = []

    async def send(topic, key, value):
        sent.append(codec.decode(value)[1])

    pairs = await unbatched_items(send, codec, "ledger-sink", msg, LEDGER, name, record)
    assert [raw for raw, _ in pairs] == raws and [it["player_id"] for _, it in pairs] == ["p0", "p1", "p2"]
    on_bad = dead_letter_rows(send, "ledger-sink", [(msg, raw) for raw, _ in pairs])
    await on_bad(1, asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'))
    (letter,) = sent
    assert letter["value"] == raws[1] and letter["stage"] == "ledger-sink" and letter["source_offset"] == 9
    assert letter["error_type"] == "CharacterNotInRepertoireError" and "0x00" in letter["reason"]
    # a lone item (no batch framing) is dead-lettered as its whole record
    on_bad = dead_letter_rows(send, "event-sink", [(msg, None)])
    await on_bad(0, asyncpg.NumericValueOutOfRangeError("numeric field overflow"))
    assert sent[-1]["value"] == b"whole batch"
