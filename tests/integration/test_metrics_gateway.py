"""The gateway's Prometheus /metrics against the real stack: bets go through a real worker, the
named gateway metrics move (events received, frames sent, connections), and a client that
floods the gateway without reading shows up as a queue overflow and a disconnect."""

from __future__ import annotations

import asyncio
import io
import json

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jackpot.streams.loadgen import run_loadgen
from jackpot.streams.publish import demo_portfolio, publish_configs

from .conftest import wait_for
from .helpers import http_ready

pytestmark = pytest.mark.integration

MAX_QUEUE = 4


@pytest.fixture(scope="module")
async def system(settings, spawn):
    await publish_configs(settings, demo_portfolio())
    worker = spawn("metrics-worker", "worker")
    gateway = spawn("metrics-gateway", "gateway", JACKPOT_GATEWAY_SMOOTHING="0",
                    JACKPOT_GATEWAY_MAX_QUEUE=str(MAX_QUEUE))
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    await http_ready(f"{base}/ready", procs=[worker, gateway])
    internal = f"http://{settings.gateway_host}:{settings.gateway_metrics_port}"  # not the public port
    return {"base": base, "internal": internal, "worker": worker, "gateway": gateway}


async def scrape(http: aiohttp.ClientSession, base: str) -> dict[tuple, float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    async with http.get(f"{base}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_gateway_metrics_move_as_bets_flow(settings, system):
    base, internal = system["base"], system["internal"]
    async with aiohttp.ClientSession() as http:
        before = await scrape(http, internal)
        assert value(before, "jackpot_ws_connections", kind="ws") == 0
        async with http.ws_connect(f"{base}/ws?jackpots=crown-fortune") as ws:
            frames: list[dict] = []

            async def read() -> None:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        frames.append(json.loads(msg.data))

            reader = asyncio.create_task(read())
            connected = await scrape(http, internal)
            assert value(connected, "jackpot_ws_connections", kind="ws") == 1
            await run_loadgen(settings, rate=400, count=1500, players=300, seed=11, progress=io.StringIO())
            await wait_for(lambda: any(f.get("type") == "pool" for f in frames), timeout=60,
                           what="a pool frame on the WebSocket")

            async def moved():
                after = await scrape(http, internal)
                return after if (
                    value(after, "jackpot_events_in_total", topic="pool-updated")
                    > value(before, "jackpot_events_in_total", topic="pool-updated")
                    and value(after, "jackpot_ws_frames_sent_total", kind="ws")
                    >= value(before, "jackpot_ws_frames_sent_total", kind="ws") + len(frames)
                ) else None

            after = await wait_for(moved, timeout=30, what="events in and frames sent to move")
            assert value(after, "jackpot_event_latency_seconds_count", stage="gateway_received") > \
                value(before, "jackpot_event_latency_seconds_count", stage="gateway_received")
            assert value(after, "jackpot_processing_seconds_count", stage="gateway_fanout") > \
                value(before, "jackpot_processing_seconds_count", stage="gateway_fanout")
            assert value(after, "jackpot_ws_connections", kind="ws") == 1
            reader.cancel()
        closed = await wait_for(
            lambda: _connections_back_to(http, internal, 0), timeout=10, what="the connection gauge to drop")
        assert value(closed, "jackpot_ws_connections", kind="ws") == 0


async def _connections_back_to(http, base, n):
    s = await scrape(http, base)
    return s if value(s, "jackpot_ws_connections", kind="ws") == n else None


async def test_a_flooding_client_overflows_its_queue_and_is_disconnected(settings, system):
    """Pings queue pongs; a burst larger than the queue, arriving before one flush, overflows it."""
    base, internal = system["base"], system["internal"]
    async with aiohttp.ClientSession() as http:
        before = await scrape(http, internal)
        for _ in range(5):  # a burst normally arrives in one read; try again if it was split up
            async with http.ws_connect(f"{base}/ws?jackpots=none-such") as ws:
                payload = json.dumps({"type": "ping"})
                for _ in range(40):  # under the 50-per-10s inbound limit
                    await ws.send_str(payload)
                while True:  # read until the gateway cuts us off, or all pongs came back
                    try:
                        msg = await ws.receive(timeout=3)
                    except asyncio.TimeoutError:
                        break
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
            after = await scrape(http, internal)
            if value(after, "jackpot_ws_queue_overflows_total", kind="ws") > \
                    value(before, "jackpot_ws_queue_overflows_total", kind="ws"):
                break
        assert value(after, "jackpot_ws_queue_overflows_total", kind="ws") > \
            value(before, "jackpot_ws_queue_overflows_total", kind="ws")
        assert value(after, "jackpot_ws_disconnects_total", kind="ws", cause="queue_overflow") > \
            value(before, "jackpot_ws_disconnects_total", kind="ws", cause="queue_overflow")
        # the JSON view and the Prometheus view agree on what is connected
        async with http.get(f"{internal}/metrics.json") as resp:
            assert (await resp.json())["ws"] == value(after, "jackpot_ws_connections", kind="ws")


async def test_worker_metrics_move_as_bets_flow(settings, system):
    base = f"http://127.0.0.1:{settings.worker_web_port}"
    await http_ready(f"{base}/ready", procs=[system["worker"]])
    async with aiohttp.ClientSession() as http:
        before = await scrape(http, base)
        await run_loadgen(settings, rate=400, count=800, players=200, seed=12, progress=io.StringIO())

        async def moved():
            after = await scrape(http, base)
            grew = all(value(after, name, **labels) > value(before, name, **labels) for name, labels in (
                ("jackpot_events_in_total", {"topic": "bets"}),
                ("jackpot_events_out_total", {"topic": "jackpot-contributions"}),
                ("jackpot_events_in_total", {"topic": "jackpot-contributions"}),
                ("jackpot_events_out_total", {"topic": "pool-updated"}),
                ("jackpot_processing_seconds_count", {"stage": "jackpot"}),
                ("jackpot_event_latency_seconds_count", {"stage": "jackpot"}),
            ))
            lag = [k for k in after if k[0] == "jackpot_consumer_lag_messages"]  # per owned partition
            return after if grew and lag and value(after, "jackpot_pools", state="active") > 0 else None

        after = await wait_for(moved, timeout=90, interval=1.0, what="the worker's metrics to move")
        assert value(after, "jackpot_tables_recovered") == 1
