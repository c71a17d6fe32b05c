"""What a player sees besides the tickers, on the real stack (spec: Jackpot Detail Page).

A jackpot created and activated through the admin API with a theme and two languages takes bets
from three players on two games through Kafka; the public gateway then serves its presentation
(texts in the player's language, static variables filled), the "Best Odds" ranking of its games
(coefficient x average bet x active players) and, to a player holding a token the operator's
platform signed, that player's own journey: contribution, qualifying spins, time chasing, rank.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import aiohttp
import pytest

from jackpot.gateway.player_views import player_token
from jackpot.streams.loadgen import produce_bets

from .conftest import free_port, wait_for
from .helpers import http_ready
from .test_admin_support import admin, call, full_draft, http, live_jackpot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration
SECRET = "player-secret-of-the-test-platform-0123456789"


def bet(brand: str, player: str, game: str, amount: str, at: dt.datetime) -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": at, "player_id": player, "game_id": game,
            "brand_id": brand, "currency": "EUR", "bet_amount": Decimal(amount), "bet_type": "real",
            "session_id": f"s-{player}"}


async def test_presentation_best_odds_and_my_journey(admin, http, settings, spawn):
    brand = admin.brand("views")
    manager = await admin.token("manager", [brand], actor="manager-views")
    name = "Journey Fortune"
    draft = full_draft([brand], name)
    draft["games"] = {"games": [{"game_id": "starburst", "coefficient": "1.2"},
                                {"game_id": "book-of-dead", "coefficient": "0.5"},
                                {"game_id": "blackjack", "coefficient": "0.1", "trigger_eligible": False}]}
    draft["presentation"] = {"theme": {"palette": "red", "show_total_pool": True},
                             "content": {"en": {"title": "{jackpot_name}", "subtitle": "Up to {max_amount}!",
                                                "win_message": "{player_name} won {win_amount}"},
                                         "ro": {"title": "{jackpot_name} RO", "subtitle": "Pana la {max_amount}!"}},
                             "default_language": "en"}
    jid = (await live_jackpot(admin, http, manager, draft))["jackpot_id"]
    worker = spawn("views-worker", "worker")
    port = free_port()
    gateway = spawn("views-gateway", "gateway", JACKPOT_GATEWAY_PORT=str(port),
                    JACKPOT_GATEWAY_METRICS_PORT=str(free_port()), JACKPOT_PLAYER_TOKEN_SECRET=SECRET)
    base = f"http://{settings.gateway_host}:{port}"
    await http_ready(f"{base}/ready", procs=[worker, gateway])
    now = dt.datetime.now(dt.timezone.utc)
    # the engine's time for a bet is when it was received (docs/providers.md): alice plays, pauses 3 s, plays on
    await produce_bets(settings, [bet(brand, "alice", "starburst", "4.00", now) for _ in range(5)])
    await asyncio.sleep(3)
    bets = [bet(brand, "alice", "starburst", "4.00", now) for _ in range(5)]
    bets += [bet(brand, "bob", "starburst", "1.00", now) for _ in range(3)]
    bets += [bet(brand, "carol", "book-of-dead", "2.00", now)]
    await produce_bets(settings, bets)

    async def get(path: str, token: str | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as s, s.get(f"{base}{path}", headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def odds():
        status, body = await get(f"/api/jackpots/{jid}/games?currency=EUR")
        return body if status == 200 and sum(g["active_players"] for g in body["games"]) == 3 else None

    await wait_for(lambda: get(f"/api/jackpots/{jid}/games"), timeout=60, what="the jackpot on the gateway")
    body = await wait_for(odds, timeout=120, what="the 14 bets in the Best Odds figures")
    games = body["games"]
    # starburst: 1.2 x 3.3077 average (43 over 13 bets) x 2 players = 7.94; book-of-dead: 0.5 x 2 x 1 = 1.00;
    # blackjack cannot trigger a drop: last
    assert [(g["game_id"], g["score"]) for g in games] == [("starburst", "7.94"), ("book-of-dead", "1.00"),
                                                            ("blackjack", "0.00")]
    assert games[0]["avg_bet"] == "3.307692" and games[-1]["trigger_eligible"] is False

    status, pres = await get(f"/api/jackpots/{jid}/presentation?lang=ro")
    assert status == 200 and pres["language"] == "ro" and pres["texts"]["title"] == f"{name} RO"
    assert pres["texts"]["subtitle"] == "Pana la 10000!" and pres["theme"]["palette"] == "red"
    status, pres = await get(f"/api/jackpots/{jid}/presentation?lang=de")
    assert pres["language"] == "en" and pres["texts"]["win_message"] == "{player_name} won {win_amount}"

    status, prob = await get(f"/api/jackpots/{jid}/journey")
    assert status == 401 and prob["type"].endswith("/unauthorized")
    forged = player_token("not-the-platform-secret-but-as-long-as-one", "alice")
    status, prob = await get(f"/api/jackpots/{jid}/journey", forged)
    assert status == 401
    status, mine = await get(f"/api/jackpots/{jid}/journey?currency=EUR", player_token(SECRET, "alice"))
    assert status == 200, mine
    # 10 bets of 4.00 at 1.5% x 1.2 (the game's coefficient): 0.072 each
    assert mine["contribution"] == "0.720000" and mine["qualifying_spins"] == 10
    assert mine["rank"] == 1 and mine["players"] == 3
    assert 3 <= mine["time_chasing_seconds"] < 60 and mine["time_chasing"] == "0h 0m"
    assert mine["eligible"] == [{"level": "Grand", "eligible": True}]
    status, bobs = await get(f"/api/jackpots/{jid}/journey", player_token(SECRET, "bob"))
    # bob 3 x 1.00 x 1.5% x 1.2 = 0.054 ahead of carol's 2.00 x 1.5% x 0.5 = 0.015
    assert (bobs["rank"], bobs["qualifying_spins"], bobs["contribution"]) == (2, 3, "0.054000")
    status, nobody = await get(f"/api/jackpots/{jid}/journey", player_token(SECRET, "dave"))
    assert nobody["participated"] is False and nobody["rank"] is None and nobody["qualifying_spins"] == 0
    assert worker.alive() and gateway.alive()
