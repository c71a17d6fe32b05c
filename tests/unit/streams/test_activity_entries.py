"""The active-player window stored per player (tables/activity.py): a checkpoint writes only what
changed, and the window a jackpot value includes is rebuilt exactly, in order, even when a crash
left entries one checkpoint ahead of the value."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rocksdict import Options, Rdict

from jackpot.tables.activity import assemble, scan, write_changes
from jackpot.tables.jackpots import JackpotRecord

JP = b"jp-1"


class Jackpot:
    """A jackpot's window, value and changelog, driven the way the jackpot agent drives them."""

    def __init__(self, db: Rdict) -> None:
        self.db = db
        self.changelog: list[tuple[bytes, bytes | None]] = []
        self.state = SimpleNamespace(activity={}, activity_changes={})
        self.record = JackpotRecord(state={})

    def bet(self, player: str, amount: int, currency: str = "EUR") -> None:
        by = self.state.activity.setdefault(currency, {})
        by.pop(player, None)
        by[player] = [player, amount]
        self.state.activity_changes.pop((currency, player), None)
        self.state.activity_changes[(currency, player)] = None
        self.record.sequence += 1

    def prune(self, player: str, currency: str = "EUR") -> None:
        del self.state.activity[currency][player]
        self.state.activity_changes[(currency, player)] = None
        self.record.sequence += 1

    def write_entries(self) -> list:
        return write_changes(self.db, lambda k, v: self.changelog.append((k, v)), JP, self.state, self.record)

    def checkpoint(self) -> None:
        """Entries, then the value (the value is durable before the next checkpoint)."""
        self.write_entries()
        self.record.durable = self.record.sequence

    def recovered(self, durable: int) -> dict:
        """The window a worker rebuilds from the changelog for a value of sequence ``durable``."""
        latest: dict[bytes, bytes | None] = {}
        for k, v in self.changelog:
            latest[k] = v
        return assemble(sorted((k, v) for k, v in latest.items() if v is not None), JP, durable).activity


@pytest.fixture
def db(tmp_path):
    d = Rdict(str(tmp_path / "db"), Options(raw_mode=True))
    yield d
    d.close()


def test_a_checkpoint_writes_only_the_players_it_changed(db):
    j = Jackpot(db)
    for i in range(100):
        j.bet(f"p{i}", i)
    j.checkpoint()
    assert len(j.changelog) == 100
    j.bet("p7", 1000)
    j.checkpoint()
    assert len(j.changelog) == 101
    assert list(j.recovered(j.record.sequence)["EUR"])[-1] == "p7"  # moved to the newest end


def test_the_window_is_rebuilt_in_order_of_last_touch(db):
    j = Jackpot(db)
    for p in ("a", "b", "c", "d"):
        j.bet(p, 1)
    j.checkpoint()
    j.bet("b", 2)
    j.bet("a", 3)
    j.checkpoint()
    assert j.recovered(j.record.sequence) == {"EUR": {"c": ["c", 1], "d": ["d", 1], "b": ["b", 2], "a": ["a", 3]}}
    assert list(j.recovered(j.record.sequence)["EUR"]) == list(j.state.activity["EUR"])


def test_entries_one_checkpoint_ahead_of_the_value_are_read_as_of_the_value(db):
    j = Jackpot(db)
    for p in ("a", "b", "c"):
        j.bet(p, 1)
    j.checkpoint()
    durable = j.record.sequence
    window_then = {"EUR": {"a": ["a", 1], "b": ["b", 1], "c": ["c", 1]}}
    j.bet("a", 5)
    j.prune("b")
    j.bet("z", 9)
    j.write_entries()  # the crash comes before the value of this checkpoint is written
    assert j.recovered(durable) == window_then
    assert list(j.recovered(durable)["EUR"]) == ["a", "b", "c"]
    assert j.recovered(j.record.sequence) == {"EUR": {"c": ["c", 1], "a": ["a", 5], "z": ["z", 9]}}


def test_a_recovered_worker_rewrites_entries_found_ahead_even_if_the_replay_does_not_touch_them(db):
    j = Jackpot(db)
    for p in ("a", "b", "c"):
        j.bet(p, 1)
    j.checkpoint()
    durable = j.record.sequence
    j.bet("a", 5)
    j.prune("c")
    j.write_entries()  # crash: the value stays at ``durable``

    # the new owner loads the value of sequence ``durable`` and its window
    items = list(scan(db, JP))
    window = assemble(items, JP, durable)
    assert window.ahead == {("EUR", "a"): 1, ("EUR", "c"): 3}
    k = Jackpot(db)
    k.changelog = j.changelog
    k.record = JackpotRecord(state={}, sequence=durable, activity_stamp=3, durable=durable)
    k.record.activity_ahead = window.ahead
    k.state.activity = window.activity
    k.bet("b", 7)  # a replay that goes another way
    k.checkpoint()
    assert k.recovered(k.record.sequence) == {"EUR": {"a": ["a", 1], "c": ["c", 1], "b": ["b", 7]}}
    assert list(k.recovered(k.record.sequence)["EUR"]) == ["a", "c", "b"]
    # and nothing is left ahead: a later, larger value would otherwise pick up the lost versions
    assert assemble(list(scan(db, JP)), JP, k.record.sequence + 100).ahead == {}


def test_players_who_left_are_deleted_once_the_value_without_them_is_durable(db):
    j = Jackpot(db)
    j.bet("a", 1)
    j.bet("b", 1)
    j.checkpoint()
    j.prune("a")
    j.checkpoint()
    key = next(k for k, _ in scan(db, JP) if k.endswith(b"a"))
    assert j.changelog[-1][0] == key and j.changelog[-1][1] is not None  # an empty version first
    assert j.recovered(j.record.sequence) == {"EUR": {"b": ["b", 1]}}
    j.bet("b", 2)
    j.checkpoint()
    assert (key, None) in j.changelog  # then a tombstone
    assert [k for k, _ in scan(db, JP)] == [next(k for k, _ in scan(db, JP))]
    assert j.recovered(j.record.sequence) == {"EUR": {"b": ["b", 2]}}


def test_a_player_who_comes_and_goes_between_checkpoints_leaves_no_entry(db):
    j = Jackpot(db)
    j.bet("a", 1)
    j.checkpoint()
    j.bet("x", 1)
    j.prune("x")
    j.checkpoint()
    assert [k for k, _ in scan(db, JP)] == [b"jp-1\x00EUR\x00a"]


def test_entries_of_one_jackpot_are_not_read_as_another_ones(db):
    j = Jackpot(db)
    j.bet("a", 1)
    j.checkpoint()
    other = Jackpot(db)
    other.state.activity_changes.clear()
    write_changes(db, lambda k, v: None, b"jp-10", SimpleNamespace(
        activity={"EUR": {"q": ["q", 1]}}, activity_changes={("EUR", "q"): None}), JackpotRecord(state={}, sequence=1))
    assert [k for k, _ in scan(db, JP)] == [b"jp-1\x00EUR\x00a"]
    assert [k for k, _ in scan(db, b"jp-10")] == [b"jp-10\x00EUR\x00q"]
