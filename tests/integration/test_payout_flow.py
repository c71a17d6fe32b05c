"""A drop end to end on the real stack: operator force drop -> winner -> wallet credit -> JackpotWon -> reseed.

The wallet is the reference wallet, first failing once (a retried credit), so the
flow also proves the retry path: the engine's attempt 2 carries the same
idempotency key and the player is credited exactly once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from jackpot.streams.codec import catalog
from jackpot.streams.kafka import producer
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs

from .conftest import wait_for
from .helpers import one_level_config, read_events, reference_wallet

pytestmark = pytest.mark.integration


async def send_command(settings, jackpot_id: str, **fields) -> None:
    record = {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
              "jackpot_id": jackpot_id, "actor": "operator-1", "reason": "test", **fields}
    async with producer(settings) as prod:
        await prod.send_and_wait(settings.topic("operator-commands"), key=jackpot_id.encode(),
                                 value=catalog().encode("OperatorCommand", record))


async def test_force_drop_pays_once_after_a_failed_credit_and_reseeds(settings, spawn):
    wallet_url = await reference_wallet(spawn, "wallet", fail_next=1)

    config = one_level_config()
    jackpot_id, level_id = config["jackpot_id"], config["levels"][0]["level_id"]
    key = jackpot_id.encode()
    await publish_configs(settings, [config])
    worker = spawn("payout-worker", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S="0.5")

    await produce_bets(settings, [{
        "event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
        "player_id": "player-lucky", "game_id": "starburst", "brand_id": "brand-royal",
        "currency": "EUR", "bet_amount": Decimal("2.00"), "bet_type": "real", "session_id": "s-1",
    }])
    await wait_for(lambda: _has_amount(settings, key, Decimal("1000.032400")), timeout=90,
                   what="the bet in the pool")
    await send_command(settings, jackpot_id, action="force_drop", level_id=level_id, currency="EUR")

    won = await wait_for(lambda: read_events(settings, settings.topic("jackpot-won"), key), timeout=120,
                         what="JackpotWon")
    assert len(won) == 1
    assert won[0]["winner_player_id"] == "player-lucky"
    assert won[0]["win_amount"] == Decimal("1000.032400")
    assert won[0]["level_id"] == level_id

    reseeded = await wait_for(lambda: read_events(settings, settings.topic("jackpot-reseeded"), key),
                              timeout=60, what="JackpotReseeded")
    assert reseeded[-1]["new_seed_amount"] == Decimal("1000.000000")
    assert reseeded[-1]["cycle_number"] == 2

    commands = await read_events(settings, settings.topic("wallet-credit-commands"), key)
    attempts = sorted({c["attempt"] for c in commands})
    assert attempts == list(range(1, len(attempts) + 1))  # retries reuse the key with the next attempt
    assert len({c["idempotency_key"] for c in commands}) == 1
    async with aiohttp.ClientSession() as http:
        stats = await (await http.get(f"{wallet_url}/stats")).json()
    assert stats["calls"] >= 2  # the injected failure, then a credit
    assert stats["credits"] == 1
    assert stats["balances"] == {"player-lucky:EUR": 1_000_032_400}

    # the durable record: the win in PostgreSQL, paid, and the drop in the audit trail
    conn = await asyncpg.connect(settings.database_url)
    try:
        win = await wait_for(lambda: conn.fetchrow(
            "SELECT * FROM wins WHERE jackpot_id = $1 AND won_at IS NOT NULL", jackpot_id), timeout=60,
            what="the win row")
        assert (win["win_amount"], win["winner_player_id"]) == (Decimal("1000.032400"), "player-lucky")
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE jackpot_id = $1", jackpot_id)
        assert audited > 0
    finally:
        await conn.close()
    assert worker.alive(), worker.log_tail()


async def _has_amount(settings, key: bytes, amount: Decimal) -> bool:
    updates = await read_events(settings, settings.topic("pool-updated"), key)
    return any(u["visible_amount"] == amount for u in updates)
