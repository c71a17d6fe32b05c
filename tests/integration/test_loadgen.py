"""``jackpot bets`` against the real broker: every event decodes, each bet falls inside its
session, the target rate and the daily profile are held, and the run ends with a rate line."""

from __future__ import annotations

import io
import time
import uuid
from collections import defaultdict

import pytest

from jackpot.streams.codec import Catalog, load_schemas
from jackpot.streams.loadgen import SESSIONS, run_loadgen
from jackpot.streams.topics import BETS

from .helpers import read_topic

pytestmark = pytest.mark.integration

CODEC = Catalog(*load_schemas())


@pytest.fixture()
def own(settings):
    """The session's settings with topics of this test's own, so other tests' bets do not count."""
    return settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}loadgen-{uuid.uuid4().hex[:6]}."})


async def test_flat_out_run_produces_sessions_around_every_bet(own):
    out = io.StringIO()
    sent = await run_loadgen(own, rate=0, count=3000, players=300, seed=42, progress=out)
    assert sent == 3000
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("bets: 3000 in ") and " bets/s (sessions: " in last

    bets = await read_topic(own, own.topic(BETS.name), timeout=20)
    sessions = await read_topic(own, own.topic(SESSIONS.name), timeout=20)
    assert len(bets) == 3000
    events = defaultdict(list)
    for m in bets + sessions:
        name, rec = CODEC.decode(m.value)
        assert m.key == rec["player_id"].encode()
        # the generator's own stamps: the broker's append times (what the engine uses) interleave
        # the two topics' batches in whatever order they reached it
        events[rec["player_id"]].append((rec["timestamp"], name, rec, m.topic))
    assert {CODEC.decode(m.value)[0] for m in bets} == {"BetPlaced"}
    assert {CODEC.decode(m.value)[0] for m in sessions} == {"PlayerSessionStart", "PlayerSessionEnd"}
    starts = sum(CODEC.decode(m.value)[0] == "PlayerSessionStart" for m in sessions)
    assert starts == len(sessions) // 2 and len(sessions) % 2 == 0, "every session that opened was closed"
    for player, evs in events.items():
        opened = {rec["session_id"]: ts for ts, name, rec, _ in evs if name == "PlayerSessionStart"}
        closed = {rec["session_id"]: ts for ts, name, rec, _ in evs if name == "PlayerSessionEnd"}
        assert opened.keys() == closed.keys(), player
        for ts, name, rec, _ in evs:
            if name == "BetPlaced":  # produced after its session's start and before its end
                assert opened[rec["session_id"]] <= ts <= closed[rec["session_id"]], player


async def test_paced_run_holds_the_target_rate(own):
    out = io.StringIO()
    t0 = time.monotonic()
    sent = await run_loadgen(own, rate=200, count=600, players=100, seed=7, progress=out, sessions=False)
    elapsed = time.monotonic() - t0
    assert sent == 600
    assert 2.7 < elapsed < 5.0, f"600 bets at 200/s took {elapsed:.1f}s"
    rate = float(out.getvalue().strip().splitlines()[-1].split(" = ")[1].split(" ")[0].replace(",", ""))
    assert 150 < rate < 225


async def test_daily_profile_slows_down_off_peak(own):
    """A compressed day (24 h in 24 s) started at 03:00: the first seconds run well below the mean rate."""
    out = io.StringIO()
    t0 = time.monotonic()
    sent = await run_loadgen(
        own,
        rate=300,
        count=0,
        players=100,
        seed=8,
        progress=out,
        sessions=False,
        profile="daily",
        day_length_s=24,
        start_hour=3.0,
        duration_s=2.0,
    )
    elapsed = time.monotonic() - t0
    assert elapsed < 5
    assert 0.15 * 300 * 2 < sent < 0.5 * 300 * 2, f"{sent} bets in 2s off-peak at a 300/s daily mean"
