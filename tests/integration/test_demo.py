"""`jackpot demo` comes up (wallet, worker, gateway, campaigns, portfolio, bets), serves a live ticker,
and on Ctrl-C stops every process it started."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from .conftest import artifact, free_port, wait_for

pytestmark = pytest.mark.integration


def processes_with(marker: str) -> list[int]:
    """PIDs whose environment carries ``marker`` (the demo's unique app id)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


async def test_demo_runs_until_interrupted_and_stops_cleanly(settings):
    app_id = f"demo-test-{uuid.uuid4().hex[:8]}"
    gw, wallet = free_port(), free_port()
    env = {**os.environ, **settings.to_env(), "JACKPOT_APP_ID": app_id, "JACKPOT_TOPIC_PREFIX": f"{app_id}.",
           "JACKPOT_GATEWAY_PORT": str(gw), "JACKPOT_WALLET_PORT": str(wallet),
           "WALLET_URL": f"http://127.0.0.1:{wallet}", "JACKPOT_DATA_DIR": str(artifact(f"{app_id}-data")),
           "JACKPOT_CAMPAIGN_DATA_DIR": str(artifact(f"{app_id}-campaigns")),
           "JACKPOT_CAMPAIGN_WEB_PORT": str(free_port()), "JACKPOT_CAMPAIGN_RECEIVER_PORT": str(free_port())}
    log = open(artifact("demo.log"), "wb")
    demo = subprocess.Popen([sys.executable, "-m", "jackpot.cli", "demo", "--rate", "50"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        await wait_for(lambda: b"Live tickers" in artifact("demo.log").read_bytes(), timeout=180,
                       what="the demo to print its ticker URL")
        assert len(processes_with(app_id)) >= 6  # demo, wallet, worker, gateway, campaigns, campaign receiver

        async def ticker_moves():
            async with aiohttp.ClientSession() as http, http.ws_connect(f"http://127.0.0.1:{gw}/ws") as ws:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    msg = await ws.receive(timeout=30)
                    if msg.type == aiohttp.WSMsgType.TEXT and '"visible_amount"' in msg.data:
                        return True
            return False

        assert await ticker_moves(), "no live ticker value from the demo"
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=90) == 0
        await asyncio.sleep(1)
        assert processes_with(app_id) == [], "the demo left processes behind"
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        log.close()
