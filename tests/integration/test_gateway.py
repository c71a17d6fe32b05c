"""The public gateway against the real stack: subscriptions, snapshot, smoothing, wins, SSE,
limits, several gateways side by side, graceful shutdown, and a client that never reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from decimal import Decimal

import aiohttp
import pytest

from jackpot.streams.codec import catalog
from jackpot.streams.kafka import producer
from jackpot.streams.loadgen import run_loadgen
from jackpot.streams.publish import demo_portfolio, publish_configs

from .conftest import free_port, wait_for
from .helpers import http_ready, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def system(settings, spawn):
    """Day-one portfolio, one worker, one gateway with the default (production) smoothing."""
    docs = demo_portfolio()
    await publish_configs(settings, docs)
    worker = spawn("gw-worker", "worker")
    gateway = spawn("gw-gateway", "gateway")
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    await http_ready(f"{base}/ready", procs=[worker, gateway])
    return {"base": base, "docs": {d["name"]: d for d in docs}, "worker": worker, "gateway": gateway}


async def bets(settings, count: int, rate: float = 0) -> None:
    import io

    await run_loadgen(settings, rate=rate, count=count, players=200, seed=None, progress=io.StringIO())


async def frames_until(ws, pred, timeout: float) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        m = json.loads(msg.data)
        m["_at"] = time.time() * 1000
        out.append(m)
        if pred(out):
            break
    return out


async def produce_win(settings, jackpot_id: str, level_id: str, player: str = "Desperado77") -> str:
    event_id = str(uuid.uuid4())
    rec = {"event_id": event_id, "timestamp": dt.datetime.now(dt.timezone.utc), "jackpot_id": jackpot_id,
           "level_id": level_id, "currency": "EUR", "win_amount": Decimal("3200.000000"),
           "winner_player_id": player, "winner_game_id": "book-of-dead", "winner_brand_id": "brand-x",
           "chain_reaction_winners": [{"rank": 1, "player_id": "chain-player-1", "brand_id": "brand-x",
                                       "amount": Decimal("500.000000")}],
           "cycle_number": 1, "trigger_bet_id": None, "selection_method": "trigger_player"}
    async with producer(settings) as prod:
        await prod.send_and_wait(settings.topic("jackpot-won"), key=jackpot_id.encode(),
                                 value=catalog().encode("JackpotWon", rec))
    return event_id


async def test_snapshot_subscription_and_smoothed_public_tickers(settings, system):
    crown = system["docs"]["Crown Fortune"]
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"{system['base']}/ws?jackpots=crown-fortune&currencies=EUR") as ws, \
            http.ws_connect(f"{system['base']}/ws?jackpots=daily-blitz&currencies=USD") as other:
        snap = json.loads((await ws.receive(timeout=10)).data)
        assert snap["type"] == "snapshot"
        assert [j["slug"] for j in snap["jackpots"]] == ["crown-fortune"]
        assert [lv["name"] for lv in snap["jackpots"][0]["levels"]] == ["Grand", "Major", "Minor", "Mini"]
        assert "contribution_rate" not in snap["jackpots"][0]
        await other.receive(timeout=10)

        producing = asyncio.create_task(bets(settings, 600, rate=150))
        got = await frames_until(ws, lambda fs: sum(f["type"] == "pool" for f in fs) >= 8, timeout=60)
        await producing
        pools = [f["pool"] for f in got if f["type"] == "pool"]
        assert pools, f"no pool frames: {got[:3]}"
        for p in pools:
            assert p["jackpot_id"] == crown["jackpot_id"] and p["currency"] == "EUR" and p["slug"] == "crown-fortune"
            assert "current_amount" not in p
            assert len(p["visible_amount"].split(".")[1]) <= 2, "rounded to the configured 0.01 step"
        others = await frames_until(other, lambda fs: False, timeout=1.0)
        assert all(f.get("pool", {}).get("jackpot_id") != crown["jackpot_id"] for f in others)

    # The lag: every frame shown at least 200 ms (minus clock slack) after its PoolUpdated was published.
    published = {}
    for m in await read_topic(settings, settings.topic("pool-updated"), key=crown["jackpot_id"].encode(), timeout=10):
        ev = catalog().decode(m.value)[1]
        published[(ev["level_id"], ev["currency"], ev["sequence"])] = m.timestamp
    lags = [f["_at"] - published[(f["pool"]["level_id"], "EUR", f["pool"]["sequence"])]
            for f in got if f["type"] == "pool" and (f["pool"]["level_id"], "EUR", f["pool"]["sequence"]) in published]
    assert lags and min(lags) >= 180, lags
    assert max(lags) < 3000, lags


async def test_a_mystery_jackpot_shows_one_ticker_and_reveals_a_level_only_when_it_drops(settings, system):
    """Spec: all levels active, only the winning level revealed on drop, a single unified ticker."""
    mystery = system["docs"]["Mystery Drops"]
    jid = mystery["jackpot_id"]
    levels = {lv["level_id"]: lv["name"] for lv in mystery["levels"]}
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"{system['base']}/ws?jackpots=mystery-drops") as ws:
        snap = json.loads((await ws.receive(timeout=10)).data)
        [listed] = snap["jackpots"]
        assert [lv["level_id"] for lv in listed["levels"]] == ["mystery"]
        assert not any(f"\"{name}\"" in json.dumps(snap) for name in levels.values())
        assert all(p["level_id"] == "mystery" for p in snap["pools"])
        producing = asyncio.create_task(bets(settings, 600, rate=150))
        got = await frames_until(ws, lambda fs: sum(f["type"] == "pool" for f in fs) >= 4, timeout=60)
        await producing
        pools = [f["pool"] for f in got if f["type"] == "pool"]
        assert pools and {p["level_id"] for p in pools} == {"mystery"}
        text = json.dumps(got)
        assert not any(lid in text for lid in levels) and not any(f'"{n}"' in text for n in levels.values())
        # the unified ticker is the sum of the levels' displayed amounts (smoothing rounds each down)
        latest = {}
        for m in await read_topic(settings, settings.topic("pool-updated"), key=jid.encode(), timeout=10):
            ev = catalog().decode(m.value)[1]
            latest[(ev["level_id"], ev["currency"])] = ev
        last = pools[-1]
        total = sum(ev["visible_amount"] for (lid, ccy), ev in latest.items() if ccy == last["currency"])
        assert Decimal(last["visible_amount"]) <= total
        # a drop names its level
        grand = next(iter(levels))
        await produce_win(settings, jid, grand)
        won = await frames_until(ws, lambda fs: any(f["type"] == "win" for f in fs), timeout=30)
        [win] = [f["win"] for f in won if f["type"] == "win"]
        assert win["level_id"] == grand and win["level_name"] == levels[grand]


async def test_leaderboard_of_a_jackpot_masked_and_unknown_ones_refused(settings, system):
    """The detail view's top contributors: by slug or id, masked, best first; a bad id is a 404 problem."""
    crown = system["docs"]["Crown Fortune"]
    await bets(settings, 200, rate=200)
    async with aiohttp.ClientSession() as http:
        async def ranked():
            async with http.get(f"{system['base']}/api/jackpots/crown-fortune/leaderboard") as r:
                assert r.status == 200
                doc = await r.json()
                return doc if doc["by_currency"].get("EUR") else None

        doc = await wait_for(ranked, timeout=60, what="a ranking of Crown Fortune's EUR contributors")
        assert doc["jackpot_id"] == crown["jackpot_id"] and doc["as_of"] > 0
        board = doc["by_currency"]["EUR"]
        assert [x["rank"] for x in board] == list(range(1, len(board) + 1)) and len(board) <= 10
        amounts = [Decimal(x["contributed"]) for x in board]
        assert amounts == sorted(amounts, reverse=True) and amounts[-1] > 0
        assert all("***" in x["player"] and x["bets"] >= 1 for x in board)
        async with http.get(f"{system['base']}/api/jackpots/{crown['jackpot_id']}/leaderboard") as r:
            assert (await r.json())["jackpot_id"] == crown["jackpot_id"]
        async with http.get(f"{system['base']}/api/jackpots/no-such-jackpot/leaderboard") as r:
            assert r.status == 404 and r.content_type == "application/problem+json"
            assert (await r.json())["type"].endswith("/unknown-jackpot")


async def test_win_reaches_subscribers_masked_and_sse_fallback(settings, system):
    crown = system["docs"]["Crown Fortune"]
    grand = crown["levels"][0]["level_id"]
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{system['base']}/ws") as ws, \
            http.get(f"{system['base']}/sse?jackpots=crown-fortune") as sse:
        await ws.receive(timeout=10)
        assert sse.headers["Content-Type"].startswith("text/event-stream")
        event_id = await produce_win(settings, crown["jackpot_id"], grand)
        got = await frames_until(ws, lambda fs: any(f["type"] == "win" for f in fs), timeout=20)
        win = next(f["win"] for f in got if f["type"] == "win")
        assert win["event_id"] == event_id and win["winner"] == "De***77" and win["slug"] == "crown-fortune"
        assert win["level_name"] == "Grand" and win["chain"][0]["winner"] == "ch***-1"
        assert "Desperado77" not in json.dumps(got) and "winner_player_id" not in win

        seen = b""
        deadline = time.monotonic() + 15
        while event_id.encode() not in seen and time.monotonic() < deadline:
            seen += await asyncio.wait_for(sse.content.readany(), 15)
        assert b"data: {\"type\":\"snapshot\"" in seen and event_id.encode() in seen

    # A new client finds the win in its snapshot.
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{system['base']}/ws") as ws:
        snap = json.loads((await ws.receive(timeout=10)).data)
        assert any(w["event_id"] == event_id for w in snap["winners"])


async def test_limits_side_by_side_gateways_and_graceful_shutdown(settings, system, spawn):
    port = free_port()
    gw2 = spawn("gw-gateway-2", "gateway", JACKPOT_GATEWAY_PORT=str(port), JACKPOT_GATEWAY_MAX_PER_IP="3",
                JACKPOT_GATEWAY_MAX_MSG_BYTES="1024", JACKPOT_GATEWAY_METRICS_PORT=str(free_port()))
    base2 = f"http://{settings.gateway_host}:{port}"
    await http_ready(f"{base2}/ready", procs=[gw2])
    async with aiohttp.ClientSession() as http:
        a = await http.ws_connect(f"{system['base']}/ws?jackpots=crown-fortune")
        socks = [await http.ws_connect(f"{base2}/ws?jackpots=crown-fortune") for _ in range(3)]
        for s in [a, *socks]:
            await s.receive(timeout=10)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base2}/ws")
        assert refused.value.status == 429
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # no trusted proxy: header ignored
            await http.ws_connect(f"{base2}/ws", headers={"X-Forwarded-For": "198.51.100.9"})
        assert refused.value.status == 429

        # Both gateways see every update.
        producing = asyncio.create_task(bets(settings, 300, rate=150))
        f1 = await frames_until(a, lambda fs: any(f["type"] == "pool" for f in fs), timeout=30)
        f2 = await frames_until(socks[0], lambda fs: any(f["type"] == "pool" for f in fs), timeout=30)
        await producing
        assert any(f["type"] == "pool" for f in f1) and any(f["type"] == "pool" for f in f2)

        # Oversized client message: the connection is closed with 1009 (message too big).
        await socks[1].send_str("x" * 4096)
        msg = await frames_until(socks[1], lambda fs: False, timeout=5)
        assert socks[1].closed and socks[1].close_code == 1009, (msg, socks[1].close_code)

        # Graceful shutdown: every socket gets a close frame, the process exits cleanly.
        t0 = time.monotonic()
        stopping = asyncio.get_running_loop().run_in_executor(None, gw2.stop)
        await asyncio.gather(frames_until(socks[0], lambda fs: False, timeout=10),
                             frames_until(socks[2], lambda fs: False, timeout=10))
        rc = await stopping
        assert socks[0].close_code == 1001 and socks[2].close_code == 1001
        assert rc == 0 and time.monotonic() - t0 < 15
        await a.close()
        for s in socks:
            await s.close()


async def test_origins_proxies_and_metrics_on_the_internal_port(settings, system, spawn):
    """A page of another site gets 403 before the upgrade; behind a trusted proxy the per-address
    limit counts the client named by X-Forwarded-For; /metrics is not on the public port."""
    port, metrics_port = free_port(), free_port()
    gw = spawn("gw-gateway-hardened", "gateway", JACKPOT_GATEWAY_PORT=str(port),
               JACKPOT_GATEWAY_METRICS_PORT=str(metrics_port), JACKPOT_GATEWAY_MAX_PER_IP="2",
               JACKPOT_GATEWAY_ALLOWED_ORIGINS="https://casino.example",
               JACKPOT_GATEWAY_TRUSTED_PROXIES="127.0.0.0/8")
    base = f"http://{settings.gateway_host}:{port}"
    internal = f"http://{settings.gateway_host}:{metrics_port}"
    await http_ready(f"{base}/ready", procs=[gw])
    casino = {"Origin": "https://casino.example"}

    def behind_lb(client: str) -> dict:
        return {**casino, "X-Forwarded-For": client}

    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base}/ws", headers={"Origin": "https://evil.example"})
        assert refused.value.status == 403
        async with http.get(f"{base}/ws", headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403 and resp.content_type == "application/problem+json"

        socks = [await http.ws_connect(f"{base}/ws", headers=behind_lb("203.0.113.7")) for _ in range(2)]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # the same client, a third time
            await http.ws_connect(f"{base}/ws", headers=behind_lb("198.51.100.1, 203.0.113.7"))
        assert refused.value.status == 429
        other = await http.ws_connect(f"{base}/ws", headers=behind_lb("203.0.113.8"))  # another client
        for s in [*socks, other]:
            assert json.loads((await s.receive(timeout=10)).data)["type"] == "snapshot"
            await s.close()

        async with http.get(f"{base}/metrics") as resp:
            assert resp.status == 404
        async with http.get(f"{base}/metrics.json") as resp:
            assert resp.status == 404
        async with http.get(f"{internal}/metrics") as resp:
            assert resp.status == 200 and "jackpot_ws_connections" in await resp.text()
        async with http.get(f"{internal}/ready") as resp:
            assert resp.status == 200
