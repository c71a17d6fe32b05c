"""Sealed jackpot-table secrets with real workers: a worker given another key stops loudly on the
first sealed value it must open (never a jackpot with zero targets), and a rotated key (the old
one kept in JACKPOT_STATE_OLD_KEYS) opens the values and seals the next ones with the new key."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import SEALED, TABLE_NAME, decode_record
from jackpot.tables.sealing import Sealer, dev_key, new_key, parse_key

from .conftest import wait_for
from .helpers import one_level_config, read_topic

pytestmark = pytest.mark.integration


def _bet(player: str) -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": player,
            "game_id": "starburst", "brand_id": "brand-royal", "currency": "EUR", "bet_amount": Decimal("2.00"),
            "bet_type": "real", "session_id": f"s-{player}"}


async def _latest(settings, key: bytes):
    msgs = await read_topic(settings, f"{settings.app_id}-{TABLE_NAME}-changelog", key, timeout=30)
    return msgs[-1].value if msgs else None


async def test_a_wrong_key_stops_the_worker_and_a_rotated_key_goes_on(settings, spawn, tmp_path):
    config = one_level_config()
    jackpot_id = config["jackpot_id"]
    key = jackpot_id.encode()
    await publish_configs(settings, [config])
    current = parse_key(settings.state_key or dev_key(settings.stack_dir))

    def bets_in(raw: bytes | None, sealer: Sealer) -> int:
        if raw is None:
            return 0
        return sum(p["meters"]["bets"] for p in decode_record(raw, sealer).state["pools"]["EUR"].values())

    first = spawn("sealed-w0", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w0"))
    await produce_bets(settings, [_bet("p1")])
    raw = await wait_for(lambda: _bet_count(settings, key, Sealer(current), 1), timeout=120, what="bet 1 applied")
    assert first.stop() == 0, first.log_tail()

    wrong = spawn("sealed-w1", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w1"), JACKPOT_STATE_KEY=new_key())
    await produce_bets(settings, [_bet("p2")])
    await wait_for(lambda: not wrong.alive(), timeout=120, what="the worker with the wrong key to stop")
    assert wrong.stop() == 70, wrong.log_tail()
    assert "SealingError" in wrong.log_tail(20000)
    assert await _latest(settings, key) == raw  # nothing written with the wrong key

    rotated = new_key()
    old = settings.state_key or dev_key(settings.stack_dir)
    third = spawn("sealed-w2", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w2"), JACKPOT_STATE_KEY=rotated,
                  JACKPOT_STATE_OLD_KEYS=old)
    both = Sealer(parse_key(rotated), [current])
    after = await wait_for(lambda: _bet_count(settings, key, both, 2), timeout=120, what="bet 2 applied")
    assert json.loads(after)[SEALED].startswith(Sealer(parse_key(rotated)).kid + ".")
    record = decode_record(after, Sealer(parse_key(rotated)))  # the new key alone opens it
    assert record.state["pools"]["EUR"][config["levels"][0]["level_id"]]["win_target"] >= 5_000_000_000
    assert bets_in(after, both) == 2
    assert third.alive(), third.log_tail()


async def _bet_count(settings, key: bytes, sealer: Sealer, bets: int) -> bytes | None:
    """The latest value once it holds ``bets`` bets."""
    raw = await _latest(settings, key)
    if raw is None:
        return None
    pools = decode_record(raw, sealer).state["pools"]["EUR"].values()
    return raw if sum(p["meters"]["bets"] for p in pools) >= bets else None
