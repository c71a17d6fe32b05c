"""The sinks on their own: a worker with ``JACKPOT_WORKER_SINKS=false`` writes nothing to PostgreSQL
or Redis; a ``jackpot sinks`` process then writes the ledger, the event tables and the live values
from the topics, and serves its own /metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from jackpot.sinks.live import LiveValues
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs

from .conftest import free_port, wait_for
from .helpers import http_ready, one_level_config, read_events

pytestmark = pytest.mark.integration


async def test_a_sinks_process_writes_what_a_worker_without_sinks_leaves(settings, spawn):
    config = one_level_config()
    jackpot_id, level_id = config["jackpot_id"], config["levels"][0]["level_id"]
    await publish_configs(settings, [config])
    worker = spawn("worker-no-sinks", "worker", JACKPOT_WORKER_SINKS="false")
    await http_ready(f"http://127.0.0.1:{settings.worker_web_port}/ready", procs=[worker])

    bet_id = str(uuid.uuid4())
    await produce_bets(settings, [{
        "event_id": bet_id, "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": "player-sinks",
        "game_id": "starburst", "brand_id": "brand-royal", "currency": "EUR", "bet_amount": Decimal("2.00"),
        "bet_type": "real", "session_id": "session-sinks"}])
    await wait_for(lambda: read_events(settings, settings.topic("ledger-contributions"), jackpot_id.encode()),
                   what="the ledger event on its topic")

    conn = await asyncpg.connect(settings.database_url)
    live = LiveValues(settings.redis_url, namespace=settings.topic_prefix)
    try:
        await asyncio.sleep(3.0)  # time enough for an in-process sink to have written it
        assert await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = $1", jackpot_id) == 0
        assert not await live.pools(jackpot_id)

        port = free_port()
        sinks = spawn("sinks", "sinks", JACKPOT_SINKS_WEB_PORT=str(port))
        await http_ready(f"http://127.0.0.1:{port}/ready", procs=[sinks, worker])
        row = await wait_for(lambda: conn.fetchrow("SELECT * FROM contributions WHERE jackpot_id = $1", jackpot_id),
                             what="the ledger row written by the sinks process")
        assert str(row["bet_id"]) == bet_id and row["gross_amount"] == Decimal("0.036000")
        pools = await wait_for(lambda: live.pools(jackpot_id), what="the live value written by the sinks process")
        assert [(p["level_id"], p["visible_amount"]) for p in pools] == [(level_id, "1000.032400")]
        await wait_for(lambda: conn.fetchval("SELECT count(*) FROM pool_snapshots WHERE jackpot_id = $1", jackpot_id),
                       what="the event sink's pool snapshot")

        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            text = await resp.text()
        written = [line for line in text.splitlines() if line.startswith('jackpot_sink_events_total{sink="ledger"}')]
        assert written and float(written[0].split()[-1]) >= 1, text[:2000]
    finally:
        await live.close()
        await conn.close()
    assert worker.alive() and sinks.alive()
