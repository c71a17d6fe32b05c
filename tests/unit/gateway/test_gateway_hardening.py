"""The public gateway's hardening without a network: the client address behind trusted proxies,
allowed WebSocket origins, the settings that configure them, and a dead task never left silent."""

from __future__ import annotations

import asyncio
import json

import pytest

from jackpot.gateway.connection import client_address, origin_allowed, parse_networks
from jackpot.gateway.options import GatewayOptions
from jackpot.gateway.ticker import TASK_DIED, TickerGateway
from jackpot.settings import Settings

LB = parse_networks("10.0.0.0/8, 2001:db8::/32")
PUBLIC_J1 = {"jackpot_id": "j1", "name": "Crown Fortune", "status": "ACTIVE",
             "levels": [{"level_id": "l1", "name": "Grand", "display_order": 1}]}


def test_the_limit_counts_the_right_most_address_not_a_trusted_proxy():
    assert client_address("10.1.2.3", ["203.0.113.7"], LB) == "203.0.113.7"
    # the left part is whatever the client sent: only what trusted proxies appended counts
    assert client_address("10.1.2.3", ["198.51.100.1, 203.0.113.7"], LB) == "203.0.113.7"
    assert client_address("10.1.2.3", ["198.51.100.1", "203.0.113.7, 10.9.9.9"], LB) == "203.0.113.7"
    assert client_address("2001:db8::9", ["2001:0DB9:0:0::1, 2001:db8::7"], LB) == "2001:db9::1"
    assert client_address("10.1.2.3", ["10.0.0.5"], LB) == "10.0.0.5"  # only proxies: the first one
    assert client_address("10.1.2.3", [], LB) == "10.1.2.3"
    assert client_address("10.1.2.3", ["not-an-address"], LB) == "10.1.2.3"


def test_forwarded_for_from_an_untrusted_peer_or_without_trusted_proxies_is_ignored():
    assert client_address("198.51.100.1", ["203.0.113.7"], LB) == "198.51.100.1"
    assert client_address("10.1.2.3", ["203.0.113.7"], ()) == "10.1.2.3"
    assert client_address(None, ["203.0.113.7"], LB) == "?"


def test_only_allowed_page_origins_open_a_websocket():
    opts = GatewayOptions.from_settings(Settings(
        JACKPOT_GATEWAY_ALLOWED_ORIGINS="https://Casino.example/, https://www.casino.example"))
    allowed = opts.allowed_origins
    assert origin_allowed("https://casino.example", allowed)
    assert origin_allowed("https://www.casino.example", allowed)
    assert not origin_allowed("https://evil.example", allowed)
    assert not origin_allowed("https://casino.example.evil.example", allowed)
    assert not origin_allowed("null", allowed)
    assert origin_allowed(None, allowed)  # not a browser page: nothing to hijack
    assert origin_allowed("https://evil.example", ())  # development without a list: open (warned)


def test_options_come_from_the_settings_and_production_requires_allowed_origins():
    opts = GatewayOptions.from_settings(Settings(JACKPOT_GATEWAY_TRUSTED_PROXIES="10.0.0.0/8,192.0.2.1",
                                                 JACKPOT_GATEWAY_METRICS_PORT="9102"))
    assert [str(n) for n in opts.trusted_proxies] == ["10.0.0.0/8", "192.0.2.1/32"] and opts.metrics_port == 9102
    with pytest.raises(ValueError, match="ALLOWED_ORIGINS"):
        TickerGateway(Settings(JACKPOT_ENV="production"))
    with pytest.raises(ValueError, match="ALLOWED_ORIGINS"):
        TickerGateway(Settings(JACKPOT_ENV="production", JACKPOT_GATEWAY_ALLOWED_ORIGINS="*"))
    TickerGateway(Settings(JACKPOT_ENV="production", JACKPOT_GATEWAY_ALLOWED_ORIGINS="https://casino.example"))


async def test_a_dead_follow_task_turns_the_gateway_not_ready_and_takes_the_process_down():
    gw = TickerGateway(Settings())
    exits: list[int] = []
    gw.exit = exits.append  # instead of os._exit, so the test can look
    gw.ready.set()
    assert gw.is_ready() and (await gw.readiness(None)).status == 200

    async def follow() -> None:
        await asyncio.sleep(0.01)
        raise ConnectionError("broker connection lost")

    gw.watch(asyncio.create_task(follow(), name="gateway-follow"))
    for _ in range(100):
        if exits:
            break
        await asyncio.sleep(0.01)
    assert exits == [TASK_DIED]
    assert not gw.is_ready() and "gateway-follow" in gw.failed and "broker connection lost" in gw.failed
    ready, health = await gw.readiness(None), await gw.health(None)
    assert ready.status == 503 and json.loads(ready.body)["status"] == "failed"
    assert health.status == 503
    await gw.live.close()


async def test_tasks_cancelled_by_a_normal_shutdown_take_nothing_down():
    gw = TickerGateway(Settings())
    exits: list[int] = []
    gw.exit = exits.append
    gw.ready.set()
    task = asyncio.create_task(asyncio.sleep(10), name="gateway-follow")
    gw.watch(task)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0.01)
    assert exits == [] and gw.is_ready()
    await gw.live.close()


def test_a_config_the_gateway_cannot_show_is_skipped_not_fatal_to_the_follow_task():
    from jackpot.gateway.directory import Directory

    d = Directory()
    good = {"jackpot_id": "j1", "name": "Crown Fortune", "status": "ACTIVE",
            "levels": [{"level_id": "l1", "name": "Grand", "display_order": 1}]}
    assert d.apply("j1", good)
    for bad in ([], "x", {"jackpot_id": "j1"}, dict(good, levels=[{"name": "no id"}]),
                dict(good, schedule={"timezone": "Mars/Olympus", "recurrence": "daily", "close_time": "22:00"})):
        assert d.apply("j1", bad) is False
    assert [j["slug"] for j in d.listing()] == ["crown-fortune"]  # the last good config stands
    assert d.apply("j1", None) and d.listing() == []


async def test_a_new_client_gets_its_snapshot_first_even_when_events_arrive_while_redis_is_read():
    """The Redis refresh behind a snapshot replays states into the hub; a client added before it
    got those as events ahead of its snapshot (seen as a flaky 'state' first frame)."""
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    gw = TickerGateway(Settings())
    assert gw.directory.apply("j1", PUBLIC_J1)  # its states reach the public
    first = {"jackpot_id": "j1", "level_id": None, "state": "ACTIVE", "timestamp": 1}

    async def refresh_with_events() -> None:  # what the real refresh does, with a pause in Redis
        await asyncio.sleep(0.05)
        gw.hub.on_state(dict(first, timestamp=first["timestamp"] + 1))
        first["timestamp"] += 1
        gw._snapshot_refreshed = 0.0  # every client refreshes again

    gw._refresh_from_redis = refresh_with_events
    app = web.Application()
    app.router.add_get("/ws", gw.ws_handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        socks = await asyncio.gather(*(http.ws_connect(server.make_url("/ws")) for _ in range(5)))
        for s in socks:
            frame = json.loads((await s.receive(timeout=5)).data)
            assert frame["type"] == "snapshot"
            await s.close()
    await gw.live.close()


async def test_odd_client_messages_get_an_error_frame_and_the_connection_lives_on():
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    gw = TickerGateway(Settings())
    assert gw.directory.apply("j1", PUBLIC_J1)

    async def no_redis() -> None:
        return None

    gw._refresh_from_redis = no_redis
    app = web.Application()
    app.router.add_get("/ws", gw.ws_handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        async with http.get(server.make_url("/ws"), params={"jackpots": ",".join(f"j{i}" for i in range(200))},
                            headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as resp:
            assert resp.status == 400 and (await resp.json(content_type=None))["type"].endswith("bad-subscription")
        ws = await http.ws_connect(server.make_url("/ws"))
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
        for bad in ('{"type":"subscribe","jackpots":5}', '{"type":"subscribe","brands":true}',
                    "[" * 2000 + "]" * 2000, '{"type":"subscribe","levels":1.5}'):
            await ws.send_str(bad)
            frame = json.loads((await ws.receive(timeout=5)).data)
            assert frame["type"] == "error", frame
        await ws.send_str('{"type":"ping"}')  # still served
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"
        await ws.close()
    await gw.live.close()
