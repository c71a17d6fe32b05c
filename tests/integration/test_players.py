"""The router joins each bet with its player: profile, session and spin count travel with the bet.

Real broker and worker: a profile and a session start go to their topics, bets follow, and every
ContributionRequest the router forwards carries the player's facts; a bet from a player the
router has never heard of carries the safe defaults (not KYC-verified, no segments).  Both
players then count as chasing the jackpot on the tickers and rank on its leaderboard.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from jackpot.sinks.live import LiveValues
from jackpot.streams.loadgen import produce_bets, produce_player_events
from jackpot.streams.publish import publish_configs
from jackpot.tables.players import TABLE_NAME as PLAYERS

from .conftest import wait_for
from .helpers import one_level_config, read_requests, read_topic, table_value

pytestmark = pytest.mark.integration


def _bet(player: str, session: str) -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": player,
            "game_id": "starburst", "brand_id": "brand-royal", "currency": "EUR", "bet_amount": Decimal("2.00"),
            "bet_type": "real", "session_id": session}


async def test_bets_carry_their_players_profile_and_session(settings, spawn):
    config = one_level_config()
    jackpot_id = config["jackpot_id"]
    await publish_configs(settings, [config])
    now = dt.datetime.now(dt.timezone.utc)
    started = now - dt.timedelta(minutes=3)
    await produce_player_events(settings, "player-profiles", [("PlayerProfile", {
        "event_id": str(uuid.uuid4()), "timestamp": now, "player_id": "player-known", "brand_id": "brand-royal",
        "segments": ["vip", "high_roller"], "vip_tier": "gold", "loyalty_tier": 4, "kyc_verified": True,
        "jurisdiction": "MT", "excluded": False, "self_excluded": False})])
    await produce_player_events(settings, "player-sessions", [("PlayerSessionStart", {
        "event_id": str(uuid.uuid4()), "timestamp": started, "player_id": "player-known",
        "brand_id": "brand-royal", "session_id": "sess-1"})])

    spawn("players-worker", "worker")
    # profiles and sessions are on their own topics: wait until the router holds them, as a
    # platform's profile service would have published them well before the player's bets
    async def joined():
        player = await table_value(settings, PLAYERS, b"player-known")
        return player if player and player["profile"] and "sess-1" in player["sessions"] else None

    await wait_for(joined, timeout=120, what="the player's profile and session in the players table")
    known = [_bet("player-known", "sess-1") for _ in range(3)]
    unknown = _bet("player-new", "sess-x")
    await produce_bets(settings, known + [unknown])

    async def forwarded():
        reqs = await read_requests(settings, jackpot_id.encode())
        return reqs if len(reqs) >= 4 else None

    reqs = {str(r["bet_id"]): r for r in await wait_for(forwarded, timeout=60, what="every contribution request")}

    spins = [reqs[b["event_id"]]["session_spins"] for b in known]
    assert spins == [1, 2, 3]
    first = reqs[known[0]["event_id"]]
    assert (first["segments"], first["vip_tier"], first["loyalty_tier"], first["kyc_verified"],
            first["jurisdiction"]) == (["vip", "high_roller"], "gold", 4, True, "MT")
    # the session started when the system received its start event (the broker's append time),
    # not when the platform's clock said (three minutes earlier): engine-owned time
    [start_msg] = await read_topic(settings, settings.topic("player-sessions"), b"player-known")
    assert start_msg.timestamp_type == 1  # LogAppendTime
    assert first["session_started_at"] == start_msg.timestamp != int(started.timestamp() * 1000)
    new = reqs[unknown["event_id"]]
    assert (new["kyc_verified"], new["segments"], new["loyalty_tier"], new["session_spins"]) == (False, [], 0, 1)

    # the jackpot agent counts its active-player window on clock ticks: "players chasing"
    live = LiveValues(settings.redis_url, namespace=settings.topic_prefix)
    try:
        async def chasing():
            return (await live.active_players()).get(jackpot_id) == 2

        await wait_for(chasing, timeout=60, what="two players chasing the jackpot in Redis")
        # and the same count ranks them on the leaderboard, masked: 2.00 x 1.5 % x game coefficient 1.2, less the 10 % house cut = 0.0324 a bet
        board = (await live.leaders())[jackpot_id]["by_currency"]["EUR"]
        assert board == [
            {"rank": 1, "player": "pl***wn", "bets": 3, "contributed": "0.097200"},
            {"rank": 2, "player": "pl***ew", "bets": 1, "contributed": "0.032400"},
        ]
    finally:
        await live.close()


async def test_mode3_targeting_facts_reach_the_jackpot(settings, spawn):
    """The CRM star flag and the custom attributes of a PlayerProfile travel with the player's bets
    into the jackpot's active-player window, where Mode 3 weighs them (only the attributes the
    jackpot weighs are kept)."""
    from jackpot.tables.jackpots import TABLE_NAME as JACKPOTS

    from .helpers import window

    config = one_level_config(distribution_mode=3,
                              compliance_profile={"jurisdiction_code": "CW", "allowed_distribution_modes": [1, 2, 3]},
                              operator_rules={"custom_weights": {"ltv": "0.5"}, "star_boost": "2"})
    jackpot_id = config["jackpot_id"]
    await publish_configs(settings, [config])
    await produce_player_events(settings, "player-profiles", [("PlayerProfile", {
        "event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": "player-star",
        "brand_id": "brand-royal", "segments": [], "vip_tier": None, "loyalty_tier": 0, "kyc_verified": True,
        "jurisdiction": "MT", "excluded": False, "self_excluded": False, "star": True,
        "attributes": {"ltv": 125_000, "deposits": 42}})])
    spawn("mode3-worker", "worker")

    async def joined():
        player = await table_value(settings, PLAYERS, b"player-star")
        return player if player and player["profile"] else None

    await wait_for(joined, timeout=120, what="the star player's profile in the players table")
    await produce_bets(settings, [_bet("player-star", "sess-star"), _bet("player-plain", "sess-plain")])

    async def forwarded():
        reqs = await read_requests(settings, jackpot_id.encode())
        return reqs if len(reqs) >= 2 else None

    reqs = {r["player_id"]: r for r in await wait_for(forwarded, timeout=60, what="both contribution requests")}
    assert (reqs["player-star"]["star"], reqs["player-star"]["attributes"]) == (True, {"ltv": 125_000, "deposits": 42})
    assert (reqs["player-plain"]["star"], reqs["player-plain"]["attributes"]) == (False, {})

    async def in_window():
        record = await table_value(settings, JACKPOTS, jackpot_id.encode())
        if not record:
            return None
        players = (await window(settings, jackpot_id, record)).get("EUR", {})
        return players if {"player-star", "player-plain"} <= set(players) else None

    players = await wait_for(in_window, timeout=60, what="both players in the jackpot's window")
    assert {"ltv": 125_000} in players["player-star"] and {"ltv": 0} in players["player-plain"]
