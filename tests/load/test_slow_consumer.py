"""A client that never reads is cut off, and the gateway's memory stays flat while it happens."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from tests.integration.conftest import artifact

from .system import rss_of, start_gateway
from .wsclient import Stats, connect, subscribe_msg

pytestmark = [pytest.mark.integration, pytest.mark.slow_consumer, pytest.mark.timeout(180)]


async def test_non_reading_clients_are_disconnected_and_rss_stays_flat(settings, spawn, running):
    gw, base, port = await start_gateway(settings, spawn, "slow-gateway", procs=[running["worker"]],
                                         JACKPOT_GATEWAY_SMOOTHING="0", JACKPOT_GATEWAY_SEND_TIMEOUT_S="3",
                                         JACKPOT_GATEWAY_MAX_PER_IP="1000")
    bets = spawn("slow-bets", "bets", "--rate", "150", "--count", "9000", "--players", "300")
    host = settings.gateway_host
    healthy = Stats()
    reader = await connect(host, port, "/ws", healthy)
    deadline = time.monotonic() + 90
    while healthy.pool_frames == 0:  # bets flow through the worker before we measure
        assert time.monotonic() < deadline, f"no pool updates; worker log:\n{running['worker'].log_tail()}"
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    rounds, rss = [], [rss_of(gw.pid)]
    for r in range(3):  # the first round warms the allocator up; later rounds must cost nothing more
        t0 = time.monotonic()
        stats = Stats()
        # Flooders ask for snapshots again and again and never read: their sends stall.
        flooders = [await connect(host, port, "/ws", stats, rcvbuf=4096, read=False) for _ in range(10)]
        # Silent ones never read at all: their send blocks, and the gateway gives up on them.
        silent = [await connect(host, port, "/ws", stats, rcvbuf=4096, read=False) for _ in range(10)]
        for f in flooders:
            for _ in range(40):
                f.send(subscribe_msg())
        # The clients' reading is paused, so they cannot notice; the gateway's count tells.
        deadline = time.monotonic() + 40
        held = 21
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                async with http.get(f"{gw.metrics_base}/metrics.json") as resp:
                    held = (await resp.json())["connections"]
                if held <= 1:
                    break
                await asyncio.sleep(0.5)
        cut = 21 - held
        for c in flooders + silent:
            c.transport.abort()
        await asyncio.sleep(1)
        rss.append(rss_of(gw.pid))
        rounds.append({"round": r + 1, "cut": cut, "of": 20, "seconds": round(time.monotonic() - t0, 1),
                       "gateway_rss_mb": round(rss[-1] / 2**20, 1)})
    report = {"rounds": rounds, "rss_mb": [round(x / 2**20, 1) for x in rss],
              "healthy_client_frames": healthy.frames, "healthy_client_open": not reader.closed}
    artifact("slow-consumer-report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    bets.stop(timeout=5)
    assert all(r["cut"] == 20 for r in rounds), report
    assert not reader.closed and healthy.frames > 10, "a client that reads is never cut"
    # Flat: the later rounds cost no more than the first one did (allocator noise aside).
    assert rss[-1] - rss[1] < 24 * 2**20, report
    reader.transport.close()
