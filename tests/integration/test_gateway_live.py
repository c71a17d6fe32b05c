"""Redis live values for the gateway (sinks/live.py) against the real Redis: wins once per event
id, warn badges only move up within a cycle, states by time, player counts by freshness."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from jackpot.sinks.live import LiveValues

pytestmark = pytest.mark.integration


@pytest.fixture()
async def live(stack):
    lv = LiveValues("redis://127.0.0.1:16379/0", namespace=f"test-{uuid.uuid4().hex[:8]}.")
    yield lv
    async for k in lv.redis.scan_iter(match=lv.ns + "*"):
        await lv.redis.delete(k)
    await lv.close()


async def test_live_values_for_wins_warn_states_and_players(live):
    ts = dt.datetime.now(dt.timezone.utc)
    win = {"event_id": str(uuid.uuid4()), "jackpot_id": "j", "level_id": "l", "currency": "EUR",
           "win_amount": Decimal("3200"), "winner_player_id": "Desperado", "winner_game_id": "g",
           "winner_brand_id": "b", "cycle_number": 1, "timestamp": ts,
           "chain_reaction_winners": [{"rank": 1, "player_id": "p2", "brand_id": "b", "amount": Decimal("500")}]}
    assert await live.apply_wins([win, win]) == 1  # a replay is a no-op
    [recent] = await live.recent_wins()
    assert recent["winner"] == "De***do" and "Desperado" not in str(recent)
    assert await live.today(int(ts.timestamp() * 1000)) == {"won_today": 1, "paid_today": {"EUR": "3700.00"}}

    w = {"jackpot_id": "j", "level_id": "l", "currency": "EUR", "cycle_number": 1}
    assert await live.apply_warn_states([dict(w, warn_state="on_fire"), dict(w, warn_state="heating")]) == 1
    assert [x["warn_state"] for x in await live.warn_states()] == ["on_fire"]
    assert await live.apply_warn_states([dict(w, warn_state="calm", cycle_number=2)]) == 1  # reseed
    assert [x["warn_state"] for x in await live.warn_states()] == ["calm"]

    assert await live.apply_state_changes([{"jackpot_id": "j", "level_id": None, "new_state": "PAUSED",
                                            "timestamp": ts, "changed_by": "op-1", "reason": "secret"}]) == 1
    [state] = await live.states()
    assert state == {"jackpot_id": "j", "level_id": None, "state": "PAUSED", "timestamp": int(ts.timestamp() * 1000)}

    await live.set_active_players({"j": 12}, as_of_ms=5)
    await live.set_active_players({"j": 3}, as_of_ms=4)  # older count: ignored
    assert await live.active_players() == {"j": 12}
