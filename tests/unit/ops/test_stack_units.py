"""Where the local stack keeps PostgreSQL's files: in the stack directory when the server's user
can reach it, else (root, a clone in a home of mode 0700) in a directory of the clone's own
outside it, recorded so that later runs and ``down`` find it. No server is started here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jackpot.ops import stack as stack_mod
from jackpot.ops.stack import Stack, StackError
from jackpot.settings import Settings


@pytest.fixture
def shared_base(tmp_path, monkeypatch):
    base = tmp_path / "var-lib" / "jackpot-stack"
    monkeypatch.setattr(stack_mod, "PG_SHARED_BASE", base)
    return base


def make_stack(stack_dir: Path) -> Stack:
    return Stack(Settings(JACKPOT_STACK_DIR=stack_dir))


class FakePg:
    """Stands in for initdb/pg_ctl/psql: records the calls, makes the files they would make."""

    def __init__(self, stack: Stack, monkeypatch):
        self.calls: list[list[str]] = []
        monkeypatch.setattr(stack, "_pg_bindir", lambda: Path("/pg/bin"))
        monkeypatch.setattr(stack, "_as_pg", self.run)
        monkeypatch.setattr(stack, "_wait_port", lambda *a, **k: None)
        monkeypatch.setattr(stack_mod.shutil, "chown", lambda *a, **k: None)

    def run(self, argv, **kw):
        self.calls.append(argv)
        if argv[0].endswith("initdb"):
            data = Path(argv[argv.index("-D") + 1])
            data.mkdir(parents=True)
            (data / "PG_VERSION").write_text("15\n")
        elif argv[0].endswith("pg_ctl") and argv[-1] == "start":
            (Path(argv[argv.index("-D") + 1]) / "postmaster.pid").write_text("4242\n")
        return subprocess.CompletedProcess(argv, 0, "1\n", "")

    def data_dirs(self) -> list[str]:
        return [c[c.index("-D") + 1] for c in self.calls if "-D" in c]


def as_root(monkeypatch, stack: Stack, reaches: bool) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(stack, "_pg_reaches", lambda path: reaches)


def test_a_user_other_than_root_keeps_postgres_in_the_stack_dir(tmp_path, shared_base, monkeypatch):
    s = make_stack(tmp_path / ".stack")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    pg = FakePg(s, monkeypatch)
    s._start_postgres(s.postgres)
    home = (tmp_path / ".stack" / "postgres").absolute()
    assert pg.data_dirs() == [str(home / "data")] * 2  # initdb, pg_ctl start
    assert s.pg_home() == home
    assert (tmp_path / ".stack" / "postgres.location").read_text().strip() == str(home)
    assert not shared_base.exists()
    assert s.postgres.recorded_pid(s.dir) == 4242


def test_root_keeps_postgres_in_a_stack_dir_the_postgres_user_reaches(tmp_path, shared_base, monkeypatch):
    s = make_stack(tmp_path / ".stack")
    as_root(monkeypatch, s, reaches=True)
    FakePg(s, monkeypatch)
    s._start_postgres(s.postgres)
    assert s.pg_home() == (tmp_path / ".stack" / "postgres").absolute()
    assert not shared_base.exists()


def test_root_in_an_unreachable_clone_puts_postgres_in_a_directory_of_its_own(
        tmp_path, shared_base, monkeypatch):
    s = make_stack(tmp_path / "clone" / ".stack")
    as_root(monkeypatch, s, reaches=False)
    pg = FakePg(s, monkeypatch)
    s._start_postgres(s.postgres)
    home = s.pg_home()
    assert home.parent == shared_base and home.name.startswith("clone-")
    assert not (tmp_path / "clone" / ".stack" / "postgres").exists()
    assert pg.data_dirs() == [str(home / "data")] * 2
    start = next(c for c in pg.calls if c[-1] == "start")
    assert f"-k {home} " in start[start.index("-o") + 1]  # the socket too
    assert start[start.index("-l") + 1] == str(home / "postgres.log")
    assert (home.stat().st_mode & 0o777) == 0o700
    assert (shared_base.stat().st_mode & 0o777) == 0o755

    # Stable: a later run (and down) of the same clone finds the same directory.
    again = make_stack(tmp_path / "clone" / ".stack")
    as_root(monkeypatch, again, reaches=False)
    pg2 = FakePg(again, monkeypatch)
    again._start_postgres(again.postgres)
    assert again.pg_home() == home and pg2.data_dirs() == [str(home / "data")]  # no second initdb
    again._stop_postgres(again.postgres, 4242)
    assert pg2.calls[-1][-1] == "stop" and pg2.data_dirs()[-1] == str(home / "data")

    # Another clone gets another directory.
    other = make_stack(tmp_path / "other" / "clone" / ".stack")
    as_root(monkeypatch, other, reaches=False)
    FakePg(other, monkeypatch)
    other._start_postgres(other.postgres)
    assert other.pg_home() != home and other.pg_home().parent == shared_base


def test_data_already_in_the_stack_dir_stays_there(tmp_path, shared_base, monkeypatch):
    (tmp_path / ".stack" / "postgres" / "data").mkdir(parents=True)
    (tmp_path / ".stack" / "postgres" / "data" / "PG_VERSION").write_text("15\n")
    s = make_stack(tmp_path / ".stack")
    # down of a stack started before the location was recorded
    assert s.pg_home() == (tmp_path / ".stack" / "postgres").absolute()
    as_root(monkeypatch, s, reaches=False)
    pg = FakePg(s, monkeypatch)
    s._start_postgres(s.postgres)
    assert s.pg_home() == (tmp_path / ".stack" / "postgres").absolute()
    assert pg.data_dirs() == [str(s.pg_home() / "data")]  # pg_ctl start only
    assert not shared_base.exists()


def test_a_directory_left_without_a_record_is_replaced_unless_a_server_runs_from_it(
        tmp_path, shared_base, monkeypatch):
    s = make_stack(tmp_path / "clone" / ".stack")
    as_root(monkeypatch, s, reaches=False)
    stale = s._pg_shared_home()
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "PG_VERSION").write_text("15\n")
    (stale / "data" / "postmaster.pid").write_text(f"{os.getpid()}\n")
    monkeypatch.setattr(stack_mod, "cmdline", lambda pid: "/usr/lib/postgresql/15/bin/postgres -D x")
    with pytest.raises(StackError, match="in use"):
        s._start_postgres(s.postgres)
    assert (stale / "data" / "PG_VERSION").exists()

    monkeypatch.setattr(stack_mod, "cmdline", lambda pid: "")  # the pid is now something else
    pg = FakePg(s, monkeypatch)
    s._start_postgres(s.postgres)
    assert s.pg_home() == stale
    assert pg.calls[0][0].endswith("initdb")  # a fresh database, as with a fresh .stack/
