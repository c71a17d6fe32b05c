"""Idempotency by bet id (tables/betids.py): a resend at any later offset is recognised for the
whole horizon, a crash replay is not mistaken for one, changed content is a conflict, entries
expire in bounded steps, and what the changelog holds recovers the same answers."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from rocksdict import Options, Rdict

from jackpot.tables import betids as B

HOUR = 3600 * 1000
HORIZON = 24 * HOUR
JP = b"jp-1"


class Table:
    """The parts of a Faust table the store uses: one partition's RocksDB and a changelog."""

    def __init__(self, db: Rdict) -> None:
        self.db = db
        self.changelog: list[tuple[bytes, bytes | None]] = []
        self.data = SimpleNamespace(_db_for_partition=lambda partition: self.db)

    def send_changelog(self, partition, key, value):
        self.changelog.append((key, value))
        return None


@pytest.fixture
def table(tmp_path):
    db = Rdict(str(tmp_path / "db"), Options(raw_mode=True))
    yield Table(db)
    db.close()


def req(bet_id: str, partition: int = 0, offset: int = 0, **changes) -> dict:
    base = {"bet_id": uuid.UUID(bet_id) if len(bet_id) == 36 else bet_id, "player_id": "p1", "game_id": "g", "brand_id": "b", "currency": "EUR",
            "bet_amount": Decimal("1.500000"), "bet_type": "real", "session_id": "s",
            "bet_timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "source_partition": partition, "source_offset": offset}
    return base | changes


def play(store: B.BetIds, *requests: tuple[dict, int]) -> list[str]:
    """One jackpot batch over (request, received ms) pairs, written at its end like a checkpoint."""
    batch = store.batch(0, JP)
    out = [batch.check(r, at) for r, at in requests]
    batch.write()
    return out


def test_a_resend_at_a_later_offset_is_recognised_for_the_whole_horizon(table):
    store = B.BetIds(table, HORIZON)
    bet = str(uuid.uuid4())
    assert play(store, (req(bet, 0, 10), 5 * HOUR)) == [B.NEW]
    later = [play(store, (req(bet, p, 100 + k), 5 * HOUR + k * HOUR))[0] for k, p in enumerate([0, 3, 7] * 8)]
    assert later == [B.RESEND] * 24
    assert play(store, (req(bet, 1, 999), 5 * HOUR + HORIZON))[0] == B.RESEND


def test_copies_inside_one_batch_and_crash_replays(table):
    store = B.BetIds(table, HORIZON)
    bet = str(uuid.uuid4())
    assert play(store, (req(bet, 2, 10), 1000), (req(bet, 2, 11), 1001), (req(bet, 2, 10), 1000)) == [
        B.NEW, B.RESEND, B.REPLAY]
    # the same message read again after a restart is a replay, never a duplicate of itself
    assert play(store, (req(bet, 2, 10), 1000)) == [B.REPLAY]


def test_same_id_with_other_content_is_a_conflict(table):
    store = B.BetIds(table, HORIZON)
    bet = str(uuid.uuid4())
    play(store, (req(bet, 0, 1), 1000))
    assert play(store, (req(bet, 0, 2, bet_amount=Decimal("150.000000")), 2000)) == [B.CONFLICT]
    assert play(store, (req(bet, 0, 3, player_id="p2"), 2000)) == [B.CONFLICT]
    assert play(store, (req(bet, 0, 4, bet_timestamp=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)), 2000)) == [
        B.CONFLICT]
    assert store.batch(0, JP).first_seen(bet, 2000) == (0, 1)


def test_ids_are_per_jackpot(table):
    store = B.BetIds(table, HORIZON)
    bet = str(uuid.uuid4())
    assert store.batch(0, b"jp-a").check(req(bet), 1000) == B.NEW
    assert store.batch(0, b"jp-b").check(req(bet), 1000) == B.NEW


def test_entries_expire_after_the_horizon_in_bounded_steps_and_the_changelog_follows(table):
    store = B.BetIds(table, HORIZON)
    for k in range(50):
        play(store, (req(f"old-{k}", 0, k), HOUR + k))
    play(store, (req("recent", 0, 99), 3 * HORIZON))
    keys = list(table.db.keys())
    assert sum(1 for k in keys if not B.is_pack(k)) == 51  # an entry per bet, in packs merged as they go
    assert store.expire(0, 3 * HORIZON, limit=20) == 20
    assert store.expire(0, 3 * HORIZON, limit=1000) == len(keys) - 2 - 20
    assert store.expire(0, 3 * HORIZON) == 0
    assert store.batch(0, JP).check(req("recent", 0, 99), 3 * HORIZON) == B.REPLAY
    # the changelog compacts to exactly the packs left, whose entries a recovery restores
    latest: dict = {}
    for k, v in table.changelog:
        latest[k] = v
    assert [k for k, v in latest.items() if v is not None] == [k for k in table.db.keys() if B.is_pack(k)]


def test_one_changelog_record_per_jackpot_batch_and_bucket(table):
    store = B.BetIds(table, HORIZON)
    play(store, *[(req(str(uuid.uuid4()), 0, n), 1000 + n) for n in range(300)])
    assert len(table.changelog) == 1
    play(store, (req("a", 0, 400), 1000), (req("b", 0, 401), 1000 + HORIZON))  # two buckets
    assert len(table.changelog) == 3
    assert not any(v is None for _, v in table.changelog)  # nothing merged yet: under MERGE_AT
    # a hot jackpot's batch of many router batches: packs stay far below the broker's 1 MB
    play(store, *[(req(str(uuid.uuid4()), 0, 1000 + n), 2000) for n in range(2 * B.PACK_MAX + 1)])
    packs = table.changelog[3:]
    assert len(packs) == 3 and all(len(v) < 512 * 1024 for _, v in packs)
    assert sum(len(B.decode_pack(k, v)) for k, v in packs) == 2 * B.PACK_MAX + 1


def test_entries_written_one_record_each_by_earlier_versions_still_answer_and_expire(table):
    store = B.BetIds(table, HORIZON)
    legacy = B.entry_key(HOUR // store.bucket_ms, JP, "legacy")
    table.db.put(legacy, B._ENTRY.pack(0, 5, B.fingerprint(req("legacy", 0, 5))))
    assert play(store, (req("legacy", 3, 77), HOUR)) == [B.RESEND]
    store.expire(0, 3 * HORIZON)
    assert (legacy, None) in table.changelog and legacy not in list(table.db.keys())


def test_a_store_recovered_from_the_changelog_answers_the_same(tmp_path, table):
    store = B.BetIds(table, HORIZON)
    ids = [str(uuid.uuid4()) for _ in range(20)]
    play(store, *[(req(i, 0, n), 1000 + n) for n, i in enumerate(ids)])
    play(store, *[(req(str(uuid.uuid4()), 0, 100 + n), 2000 + n) for n in range(5)])
    fresh = Table(Rdict(str(tmp_path / "restored"), Options(raw_mode=True)))
    for k, v in table.changelog:
        B.restore(fresh.db, k, v)
    again = B.BetIds(fresh, HORIZON)
    assert play(again, *[(req(i, 5, 100 + n), 50_000) for n, i in enumerate(ids)]) == [B.RESEND] * 20
    assert sorted(fresh.db.keys()) == sorted(table.db.keys())
    fresh.db.close()


def test_recovery_stores_a_packs_entries_before_faust_persists_the_offset_past_it(tmp_path, table):
    """Faust's store writes a restored batch and then the partition's persisted offset, from which
    a restart resumes: a process killed between that and the expansion must not leave a pack whose
    bet ids are never expanded, so the entries come first."""
    store = B.BetIds(table, HORIZON)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    play(store, *[(req(i, 0, n), 1000 + n) for n, i in enumerate(ids)])
    [(pack_key, pack)] = [(k, v) for k, v in table.changelog if B.is_pack(k)]
    fresh = Rdict(str(tmp_path / "restored"), Options(raw_mode=True))
    entries_when_persisted = []

    class Store:  # Faust's store: the batch, then the persisted offset
        _db_for_partition = staticmethod(lambda partition: fresh)

        def apply_changelog_batch(self, batch, to_key, to_value):
            for event in batch:
                fresh.put(event.message.key, event.message.value)
            entries_when_persisted.append(sum(1 for k in fresh.keys() if not B.is_pack(k)))

    restored = object.__new__(B.BetIdsTable)
    restored._data = Store()
    message = SimpleNamespace(key=pack_key, value=pack, partition=0, offset=7)
    restored.apply_changelog_batch([SimpleNamespace(message=message)])
    assert entries_when_persisted == [3]
    again = B.BetIds(Table(fresh), HORIZON)
    assert play(again, *[(req(i, 5, 100 + n), 50_000) for n, i in enumerate(ids)]) == [B.RESEND] * 3
    fresh.close()


def compacted(changelog: list) -> dict:
    """What a compacted changelog keeps: the last record of each key, tombstones gone."""
    latest: dict = {}
    for k, v in changelog:
        latest[k] = v
    return {k: v for k, v in latest.items() if v is not None}


def test_small_packs_are_merged_so_the_compacted_changelog_stays_near_one_record_per_pack_max_ids(tmp_path, table):
    """A save per jackpot leaves a small pack; a day of them was a record per save to restore.
    Merged as they gather, a bucket keeps full packs and fewer than MERGE_AT small ones, and a
    store restored from the whole changelog or from its compacted form answers the same."""
    store = B.BetIds(table, HORIZON)
    ids, at = [], 7 * HOUR  # bucket 1: its key starts with the bytes 0x00 0x01, like a pack marker
    for save in range(1500):
        batch = [(req(f"{save}-{k}", 0, 3 * save + k), at + save) for k in range(3)]
        ids += [r["bet_id"] for r, _ in batch]
        assert play(store, *batch) == [B.NEW] * 3
    packs = [k for k in table.db.keys() if B.is_pack(k)]
    full = [k for k in packs if B.SEP + B.FULL in k]
    assert len(full) == len(ids) // B.PACK_MAX and len(packs) - len(full) < B.MERGE_AT
    assert sorted(compacted(table.changelog)) == sorted(packs)
    assert sum(len(B.decode_pack(k, v)) for k, v in compacted(table.changelog).items()) == len(ids)
    for name, records in (("whole", table.changelog), ("compacted", compacted(table.changelog).items())):
        fresh = Table(Rdict(str(tmp_path / name), Options(raw_mode=True)))
        for k, v in records:
            B.restore(fresh.db, k, v)
        again = B.BetIds(fresh, HORIZON)
        assert play(again, *[(req(i, 5, 10_000 + n), at + 2000) for n, i in enumerate(ids)]) == [B.RESEND] * len(ids)
        fresh.db.close()


def test_a_backlog_of_small_packs_is_merged_a_bounded_amount_per_save(table, monkeypatch):
    """After a restart the counts are unknown: the MERGE_AT-th small pack since merges, and a
    long backlog (an earlier version's packs) is merged at most MERGE_MAX entries per save."""
    monkeypatch.setattr(B, "MERGE_AT", 10**9)
    store = B.BetIds(table, HORIZON)
    for save in range(300):
        play(store, *[(req(f"{save}-{k}", 0, 100 * save + k), 1000 + save) for k in range(100)])
    assert sum(1 for k in table.db.keys() if B.is_pack(k)) == 300
    monkeypatch.setattr(B, "MERGE_AT", 32)
    restarted = B.BetIds(table, HORIZON)
    for n in range(B.MERGE_AT - 1):
        play(restarted, (req(f"early-{n}", 0, 90_000 + n), 2000))
    assert not any(v is None for _, v in table.changelog)  # nothing merged yet
    before = len(table.changelog)
    play(restarted, (req("next", 0, 99_999), 2000))
    rewritten = [(k, v) for k, v in table.changelog[before + 1:] if v is not None]
    assert B.MERGE_MAX <= sum(len(B.pack_items(v)) for _, v in rewritten) < B.MERGE_MAX + 100
    for n in range(5):
        play(restarted, (req(f"next-{n}", 0, 100_000 + n), 2000))
    packs = [k for k in table.db.keys() if B.is_pack(k)]
    full = [k for k in packs if B.SEP + B.FULL in k]
    assert len(full) >= 30_037 // B.PACK_MAX - 3 and len(packs) - len(full) < B.MERGE_AT
    assert sum(len(B.decode_pack(k, v)) for k, v in compacted(table.changelog).items()) == 30_037


def test_recovery_expands_each_bet_id_once_per_batch_however_often_it_was_merged(tmp_path, table, monkeypatch):
    """A merge re-sends entries in new packs ahead of the old packs' tombstones; a restore batch
    that holds both expands only the packs still live at its end, and loses no bet id."""
    store = B.BetIds(table, HORIZON)
    ids = []
    for save in range(100):
        ids += [f"{save}-{k}" for k in range(3)]
        play(store, *[(req(f"{save}-{k}", 0, 3 * save + k), 1000 + save) for k in range(3)])
    assert any(v is None for _, v in table.changelog)  # merged: tombstones went out
    fresh = Rdict(str(tmp_path / "restored"), Options(raw_mode=True))
    expanded = []

    class Store:
        _db_for_partition = staticmethod(lambda partition: fresh)

        def apply_changelog_batch(self, batch, to_key, to_value):
            for event in batch:
                if event.message.value is None:
                    fresh.delete(event.message.key)
                else:
                    fresh.put(event.message.key, event.message.value)

    real_restore = B.restore
    monkeypatch.setattr(B, "restore", lambda db, k, v: (expanded.extend(B.decode_pack(k, v)), real_restore(db, k, v)))
    restored = object.__new__(B.BetIdsTable)
    restored._data = Store()
    restored.apply_changelog_batch([SimpleNamespace(message=SimpleNamespace(key=k, value=v, partition=0, offset=n))
                                    for n, (k, v) in enumerate(table.changelog)])
    assert len(expanded) == len(ids)
    again = B.BetIds(Table(fresh), HORIZON)
    assert play(again, *[(req(i, 5, 10_000 + n), 50_000) for n, i in enumerate(ids)]) == [B.RESEND] * len(ids)
    fresh.close()


def test_a_store_that_missed_tombstones_merges_without_overwriting_newer_packs(tmp_path, table):
    """A worker given back a partition it had keeps its old small packs, and reads the new owner's
    merged packs but not their tombstones once compaction dropped them.  Its own merge must add to
    the changelog, never replace the new owner's full packs with fewer entries."""
    first = B.BetIds(table, HORIZON)
    ids = []

    def saves(store, start, n):
        for save in range(start, start + n):
            batch = [(req(f"{save:04d}-{k:03d}", 0, 1000 * save + k), 1000 + save) for k in range(90)]
            ids.extend(r["bet_id"] for r, _ in batch)
            play(store, *batch)

    saves(first, 0, 20)  # small packs only, under MERGE_AT
    handed_over = len(table.changelog)
    second = Table(Rdict(str(tmp_path / "second"), Options(raw_mode=True)))
    for k, v in table.changelog:
        B.restore(second.db, k, v)
    second.changelog = list(table.changelog)  # the broker's changelog, appended to by the new owner
    saves(B.BetIds(second, HORIZON), 20, 40)  # merges: full packs, tombstones for the first owner's
    # compaction has kept only the latest value of each key the new owner wrote: the first owner
    # reads those, and no tombstone of its own old packs
    for k, v in compacted(second.changelog[handed_over:]).items():
        B.restore(table.db, k, v)
    table.changelog = list(second.changelog)
    saves(B.BetIds(table, HORIZON), 60, 40)
    live = compacted(table.changelog)
    kept = {raw.decode() for v in live.values() for raw, _ in B.pack_items(v)}
    assert not [i for i in ids if i not in kept]
    second.db.close()
