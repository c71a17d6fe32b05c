"""Redis loses everything (a restart without persistence): the live sink rebuilds every live value
from PostgreSQL, pools, warn badges, jackpot states and the winner feed, with nothing replayed
from the topics, and the tickers carry on from there."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from decimal import Decimal

import pytest
from redis.exceptions import RedisError

from jackpot.sinks.live import LiveValues
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs

from .conftest import free_port, wait_for
from .helpers import http_ready, one_level_config, send_command

pytestmark = pytest.mark.integration


def start_redis(port: int, workdir) -> subprocess.Popen:
    return subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port),
                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)


async def snapshot(live: LiveValues) -> dict:
    return {"pools": sorted((p["jackpot_id"], p["level_id"], p["currency"], p["visible_amount"], p["sequence"])
                            for p in await live.pools()),
            "wins": [(w["event_id"], w["amount"], w["winner"]) for w in await live.recent_wins()],
            "states": sorted((s["jackpot_id"], s["level_id"] or "*", s["state"]) for s in await live.states())}


async def test_an_empty_redis_is_rebuilt_from_postgresql(settings, spawn, tmp_path):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(port, tmp_path)
    wallet_port = free_port()
    wallet = spawn("rebuild-wallet", "wallet", JACKPOT_WALLET_PORT=str(wallet_port))
    live = LiveValues(redis_url, namespace=settings.topic_prefix)
    try:
        await http_ready(f"http://127.0.0.1:{wallet_port}/health", procs=[wallet])
        config = one_level_config()
        jackpot_id = config["jackpot_id"]
        await publish_configs(settings, [config])
        spawn("rebuild-worker", "worker", REDIS_URL=redis_url, WALLET_URL=f"http://127.0.0.1:{wallet_port}",
              JACKPOT_CLOCK_INTERVAL_S="0.5")
        now = dt.datetime.now(dt.timezone.utc)
        await produce_bets(settings, [{
            "event_id": str(uuid.uuid4()), "timestamp": now, "player_id": f"player-{i}", "game_id": "starburst",
            "brand_id": "brand-royal", "currency": "EUR", "bet_amount": Decimal("2.00"), "bet_type": "real",
            "session_id": f"s-{i}"} for i in range(4)])
        async def bets_in():
            try:
                return [p for p in await live.pools() if p["visible_amount"] == "1000.129600"]
            except (OSError, ConnectionError, RedisError):
                return None

        await wait_for(bets_in, timeout=120, what="the four bets in the pool")  # a force drop needs a player
        await send_command(settings, jackpot_id, action="force_drop", level_id=config["levels"][0]["level_id"],
                           currency="EUR", reason="rebuild test")

        seen = {}

        async def settled():
            snap = seen["last"] = await snapshot(live)
            return snap if snap["wins"] and snap["pools"] and snap["states"] else None

        try:
            await wait_for(settled, timeout=120, interval=1.0, what="pools, a win and a state in Redis")
        except AssertionError:
            raise AssertionError(f"Redis before the restart: {seen.get('last')}") from None
        before = await wait_for(settled, timeout=10, what="the same again")  # after the reseed's updates

        # Redis restarts with nothing
        redis.kill()
        redis.wait()
        redis = start_redis(port, tmp_path)

        async def rebuilt():
            try:
                snap = await snapshot(live)
            except (OSError, ConnectionError, RedisError):  # our own client's stale connection to the old server
                return None
            return snap if snap["wins"] and snap["pools"] and snap["states"] else None

        after = await wait_for(rebuilt, timeout=60, interval=1.0, what="the live values rebuilt")
        assert after["wins"] == before["wins"]  # same event ids, amounts and masked winners
        assert after["states"] == before["states"]
        assert [p[:4] for p in after["pools"]] == [p[:4] for p in before["pools"]]
    finally:
        await live.close()
        redis.kill()
        redis.wait()

