"""5,000 concurrent WebSocket clients on one gateway process, four tickers each, while bets flow.

Loopback only; bounded in count (5,000 clients, 3,000 bets) and time (about a minute).  Smoothing
is switched off for the measurement so the delay is the gateway's own: from the PoolUpdated
record's Kafka timestamp (its publication) to the frame's receipt by the client.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import aiohttp
import pytest

from tests.integration.conftest import artifact
from tests.integration.helpers import read_topic
from jackpot.streams.codec import catalog

from .system import rss_of, start_gateway
from .wsclient import Stats, connect, percentile

pytestmark = [pytest.mark.integration, pytest.mark.load, pytest.mark.timeout(300)]

CLIENTS = int(os.environ.get("JACKPOT_LOAD_CLIENTS", "5000"))
HOLD_S = float(os.environ.get("JACKPOT_LOAD_SECONDS", "25"))
BET_RATE = 100


async def test_5000_clients_four_tickers_each(settings, spawn, running):
    gw, base, port = await start_gateway(settings, spawn, "load-gateway", procs=[running["worker"]],
                                         JACKPOT_GATEWAY_SMOOTHING="0", JACKPOT_GATEWAY_MAX_PER_IP=str(CLIENTS + 100),
                                         JACKPOT_GATEWAY_SO_SNDBUF="16384")
    rss_idle = rss_of(gw.pid)
    # Four groups of four tickers: every level of Crown Fortune / Mega Cascade in EUR / USD.
    paths = [f"/ws?jackpots={j}&currencies={c}" for j in ("crown-fortune", "mega-cascade") for c in ("EUR", "USD")]
    stats = Stats(sample_every=20)
    clients, t0 = [], time.monotonic()
    sem = asyncio.Semaphore(100)

    async def one(i: int):
        async with sem:
            clients.append(await connect(settings.gateway_host, port, paths[i % len(paths)], stats))

    await asyncio.gather(*(one(i) for i in range(CLIENTS)))
    connect_s = time.monotonic() - t0
    rss_connected = rss_of(gw.pid)

    bets = spawn("load-bets", "bets", "--rate", str(BET_RATE), "--count", str(int(BET_RATE * (HOLD_S + 30))),
                 "--players", "500")
    deadline = time.monotonic() + 90
    while stats.pool_frames == 0:
        assert time.monotonic() < deadline, f"no pool frames; worker:\n{running['worker'].log_tail()}"
        await asyncio.sleep(0.5)
    start_frames, start_pool, start_samples = stats.frames, stats.pool_frames, len(stats.samples)
    t_hold = time.monotonic()
    rss_peak = 0
    while time.monotonic() - t_hold < HOLD_S:
        await asyncio.sleep(1)
        rss_peak = max(rss_peak, rss_of(gw.pid))
    held_s = time.monotonic() - t_hold
    frames, pool_frames = stats.frames - start_frames, stats.pool_frames - start_pool
    held = sum(not c.closed for c in clients)
    async with aiohttp.ClientSession() as http, http.get(f"{gw.metrics_base}/metrics.json") as resp:
        server = await resp.json()
    bets.stop(timeout=5)

    codec = catalog()
    published = {}
    for m in await read_topic(settings, settings.topic("pool-updated"), timeout=30):
        ev = codec.decode(m.value)[1]
        published[(ev["jackpot_id"], ev["level_id"], ev["currency"], ev["sequence"])] = m.timestamp
    stats.samples = stats.samples[start_samples:]
    delays = stats.delays_ms(published)
    report = {
        "clients": CLIENTS, "tickers_per_client": 4, "connected_in_s": round(connect_s, 1),
        "connections_held": held, "gateway_connections": server["connections"],
        "measured_s": round(held_s, 1), "bet_rate": BET_RATE,
        "frames_delivered": frames, "pool_frames_delivered": pool_frames,
        "frames_per_s": round(frames / held_s), "delay_samples": len(delays),
        "delay_ms_p50": round(percentile(delays, 50), 1), "delay_ms_p99": round(percentile(delays, 99), 1),
        "delay_ms_max": round(max(delays), 1) if delays else None,
        "gateway_rss_mb": {"idle": round(rss_idle / 2**20, 1), "connected": round(rss_connected / 2**20, 1),
                           "peak_under_load": round(rss_peak / 2**20, 1)},
        "client_closes": stats.closes[:5],
    }
    artifact("load-report.json").write_text(json.dumps(report, indent=2))
    print("\nLOAD " + json.dumps(report, indent=2))
    for c in clients:
        c.transport.abort()
    assert held == CLIENTS and server["connections"] >= CLIENTS
    assert pool_frames > CLIENTS, report
    assert delays and percentile(delays, 99) < 5000, report
