"""A flagship jackpot with thousands of players in its active window (a few hundred bytes a
player, megabytes in all): stored one entry per player next to its table value, checkpointed as
bets come, and recovered, in order, by a worker that has never seen it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from jackpot.engine.pool import JackpotState
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import wait_for
from .helpers import one_level_config, table_value, window

pytestmark = pytest.mark.integration

PLAYERS = 20000  # about 3 MB of state as JSON


def _bet(player: str) -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": player,
            "game_id": "starburst", "brand_id": "brand-royal", "currency": "EUR", "bet_amount": Decimal("2.00"),
            "bet_type": "real", "session_id": f"s-{player}"}


async def _applied(settings, jackpot_id: str, bets: int):
    rec = await table_value(settings, TABLE_NAME, jackpot_id.encode())
    if rec is None:
        return None
    st = JackpotState.from_dict(rec["state"])
    if sum(p.meters.bets for p in st.iter_pools()) < bets:
        return None
    st.activity = await window(settings, jackpot_id, rec)
    return st


async def test_a_jackpot_with_thousands_of_active_players_checkpoints_and_recovers(settings, spawn, tmp_path):
    config = one_level_config(active_window_seconds=600)
    jackpot_id = config["jackpot_id"]
    await publish_configs(settings, [config])
    first = spawn("large-w0", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w0"))
    await produce_bets(settings, [_bet(f"player-{i:05d}") for i in range(PLAYERS)])
    state = await wait_for(lambda: _applied(settings, jackpot_id, PLAYERS), timeout=180, interval=2.0,
                           what=f"{PLAYERS} bets applied")
    before = list(state.activity["EUR"])  # in the order the bets were applied
    assert sorted(before) == [f"player-{i:05d}" for i in range(PLAYERS)]
    assert first.alive(), first.log_tail()

    # a worker with an empty data directory rebuilds the value from the changelog and goes on
    assert first.stop() == 0, first.log_tail()
    second = spawn("large-w1", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w1"))
    await produce_bets(settings, [_bet("player-late")])
    state = await wait_for(lambda: _applied(settings, jackpot_id, PLAYERS + 1), timeout=180, interval=2.0,
                           what="the next bet applied on the recovered value")
    assert list(state.activity["EUR"]) == before + ["player-late"]
    assert second.alive(), second.log_tail()
