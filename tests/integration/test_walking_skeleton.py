"""One real bet, end to end: Kafka -> router -> jackpot agent -> table, topics, PostgreSQL, Redis, WebSocket.

The numbers are the specification's worked example: EUR 2.00 x 1.5% x 1.2 = 0.036
gross; x 0.90 = 0.0324 net to the pool; the operator keeps 0.0036.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from jackpot.sinks.live import LiveValues
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import SECRET_POOL_FIELDS, TABLE_NAME

from .conftest import wait_for
from .helpers import http_ready, one_level_config, read_events, read_topic, table_value

pytestmark = pytest.mark.integration


async def test_one_bet_flows_end_to_end(settings, spawn):
    config = one_level_config()
    jackpot_id = config["jackpot_id"]
    level_id = config["levels"][0]["level_id"]
    key = jackpot_id.encode()
    await publish_configs(settings, [config])

    worker = spawn("worker", "worker")
    gateway = spawn("gateway", "gateway", JACKPOT_GATEWAY_SMOOTHING="0")  # exact amounts, no display lag
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    await http_ready(f"{base}/ready", procs=[worker, gateway])

    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}/ws?jackpot={jackpot_id}") as ws:
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello["type"] == "snapshot"

        bet_id = str(uuid.uuid4())
        await produce_bets(settings, [{
            "event_id": bet_id,
            "timestamp": dt.datetime.now(dt.timezone.utc),
            "player_id": "player-skeleton", "game_id": "starburst", "brand_id": "brand-royal",
            "currency": "EUR", "bet_amount": Decimal("2.00"), "bet_type": "real",
            "session_id": "session-skeleton",
        }])

        # 1. the WebSocket client sees the new visible amount
        async def frame():
            msg = json.loads((await ws.receive(timeout=60)).data)
            return msg if msg["type"] == "pool" and msg["pool"]["visible_amount"] == "1000.032400" else None

        pushed = await wait_for(frame, timeout=90, what="WebSocket frame with the new amount")
        assert pushed["pool"]["jackpot_id"] == jackpot_id
        assert pushed["pool"]["level_id"] == level_id
        assert "current_amount" not in pushed["pool"], "the gateway must never expose current_amount"

    # 2. PoolUpdated on its topic, with the exact amounts
    updates = await read_events(settings, settings.topic("pool-updated"), key)
    last = updates[-1]
    assert (last["visible_amount"], last["current_amount"]) == (Decimal("1000.032400"), Decimal("1000.032400"))
    assert last["level_id"] == level_id and last["currency"] == "EUR"

    # 3. the table holds the exact contribution and the mark of the applied bet
    record = await table_value(settings, TABLE_NAME, key)
    pool = record["state"]["pools"]["EUR"][level_id]
    assert pool["visible"] == 1_000_032_400
    assert pool["meters"]["gross"] == 36_000 and pool["meters"]["house"] == 3_600
    assert sum(record["bet_marks"].values()) >= 0 and len(record["bet_marks"]) == 1

    # 3b. ...but its changelog holds no secret in clear: no win target, threshold, delay, arming or seed
    # (opened above with the workers' key: they are there, sealed)
    assert pool["win_target"] >= 5_000_000_000 and pool["rng_seed"] and record["seeds"]
    seeds = [pool["rng_seed"], *record["seeds"].values()]
    changelog = await read_topic(settings, f"{settings.app_id}-{TABLE_NAME}-changelog", key)
    assert changelog
    for m in changelog:
        doc = json.loads(m.value)
        assert doc["sealed"] and "seeds" not in doc
        for by_level in doc["state"]["pools"].values():
            for stored in by_level.values():
                assert not set(SECRET_POOL_FIELDS) & set(stored)
                assert {"win_target", "fire_threshold", "eval_delay", "retargets", "rng_seed"} <= set(SECRET_POOL_FIELDS)
        assert not [s for s in seeds if s.encode() in m.value]

    # 4. the ledger row in PostgreSQL
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await wait_for(lambda: conn.fetchrow(
            "SELECT * FROM contributions WHERE jackpot_id = $1", jackpot_id), what="ledger row")
        assert str(row["bet_id"]) == bet_id
        assert (row["bet_amount"], row["gross_amount"], row["house_cut_amount"]) == (
            Decimal("2.000000"), Decimal("0.036000"), Decimal("0.003600"))
        lv = await conn.fetchrow("SELECT * FROM contribution_levels WHERE jackpot_id = $1", jackpot_id)
        assert (lv["level_id"], lv["net_amount"], lv["visible_amount"]) == (
            level_id, Decimal("0.032400"), Decimal("0.032400"))
    finally:
        await conn.close()

    # 5. the live value in Redis
    live = LiveValues(settings.redis_url, namespace=settings.topic_prefix)
    try:
        pools = await wait_for(lambda: live.pools(jackpot_id), what="redis value")
        assert [(p["level_id"], p["visible_amount"]) for p in pools] == [(level_id, "1000.032400")]
    finally:
        await live.close()

    assert worker.alive() and gateway.alive()
