"""Live edits and exclusions on the real stack (broker, worker, PostgreSQL).

- A level and a currency added to a live jackpot take bets at once: before, the agent raised
  ``KeyError`` on the first bet after the edit and the worker exited, again at every restart.
- A new version whose win_max is below a pool's current amount (published around the admin API,
  which refuses it) faults the jackpot: contributions are held, nothing drops above the limit.
- Excluded and self-excluded players feed no pool: their bets leave no ledger row.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
import pytest

from jackpot.streams.loadgen import produce_bets, produce_player_events
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME
from jackpot.tables.players import TABLE_NAME as PLAYERS

from .conftest import wait_for
from .helpers import one_level_config, read_events, read_topic, table_value

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _workers_stop_with_their_test(spawn):
    """Each test's worker stops when the test ends: six workers of one group on two cores kept the
    group rebalancing, and the last test once waited two minutes for its partitions."""
    yield
    spawn.stop_all()


def _bet(player: str = "player-1", currency: str = "EUR", amount: str = "2.00") -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": player,
            "game_id": "starburst", "brand_id": "brand-royal", "currency": currency,
            "bet_amount": Decimal(amount), "bet_type": "real", "session_id": f"s-{player}"}


def _level(name: str, order: int, split: str, **limits: str) -> dict:
    return {"level_id": str(uuid.uuid4()), "name": name, "display_order": order, "contribution_split": split,
            "seed_from": "100", "seed_to": "100", "win_from": "5000", "win_to": "6000", "win_max": "10000", **limits}


async def _rows(conn: asyncpg.Connection, jackpot_id: str) -> dict[tuple[str, str], int]:
    """Ledger rows per (level, currency) of one jackpot."""
    rows = await conn.fetch(
        "SELECT l.level_id, c.currency::text AS currency, count(*) AS n FROM contribution_levels l "
        "JOIN contributions c USING (event_id) WHERE c.jackpot_id = $1 GROUP BY 1, 2", jackpot_id)
    return {(r["level_id"], r["currency"]): r["n"] for r in rows}


async def test_levels_and_currencies_added_live_take_bets_and_a_limit_below_the_pool_faults(settings, spawn):
    v1 = one_level_config()
    jackpot_id, grand = v1["jackpot_id"], v1["levels"][0]["level_id"]
    await publish_configs(settings, [v1])
    worker = spawn("live-edit-worker", "worker")
    await produce_bets(settings, [_bet() for _ in range(3)])
    conn = await asyncpg.connect(settings.database_url)
    try:
        await wait_for(lambda: conn.fetchval("SELECT count(*) = 3 FROM contributions WHERE jackpot_id = $1",
                                             jackpot_id), timeout=120, what="the first three ledger rows")

        # v2: a second level and a second currency, on the live jackpot
        v2 = copy.deepcopy(v1)
        v2["levels"][0]["contribution_split"] = "0.8"
        bonus = _level("Bonus", 2, "0.2")
        v2["levels"].append(bonus)
        v2["currencies"] = ["EUR", "RON"]
        await publish_configs(settings, [v2])
        await produce_bets(settings, [_bet() for _ in range(3)] + [_bet(currency="RON", amount="10.00")])

        async def fed():
            rows = await _rows(conn, jackpot_id)
            return rows if rows.get((bonus["level_id"], "EUR")) == 3 and rows.get((bonus["level_id"], "RON")) == 1 \
                else None

        rows = await wait_for(fed, timeout=120, what="the new level fed in EUR and in the new currency RON")
        assert rows[(grand, "EUR")] == 6 and rows[(grand, "RON")] == 1
        assert worker.alive()
        state = (await table_value(settings, TABLE_NAME, jackpot_id.encode()))["state"]
        assert state["status"] == "ACTIVE" and state["pools"]["RON"][bonus["level_id"]]["cycle"] == 1

        # v3: Grand's win_max below its current amount: the admin API and the CLI refuse it; written
        # to the configs topic around both (an operator with the bus's credentials), the engine faults
        v3 = copy.deepcopy(v2)
        v3["levels"][0].update(seed_from="1", seed_to="1", win_from="2", win_to="3", win_max="4")
        await wait_for(lambda: conn.fetchval("SELECT count(*) > 0 FROM pool_snapshots WHERE jackpot_id = $1",
                                             jackpot_id), timeout=60, what="the pool amounts in PostgreSQL")
        from jackpot.gateway.admin.publication import ConfigRefused
        from jackpot.streams.kafka import producer
        from jackpot.streams.publish import normalise

        with pytest.raises(ConfigRefused, match="below the current amount"):
            await publish_configs(settings, [v3])
        async with producer(settings) as prod:
            await prod.send_and_wait(settings.topic("jackpot-configs"), key=jackpot_id.encode(),
                                     value=normalise(v3)[1])
        await produce_bets(settings, [_bet()])

        async def faulted():
            rec = await table_value(settings, TABLE_NAME, jackpot_id.encode())
            return rec["state"] if rec["state"].get("fault") and rec["state"]["status"] == "PAUSED" else None

        state = await wait_for(faulted, timeout=120, what="the jackpot faulted by the new limit")
        assert state["fault"]["actor"] == "system:config" and "win_max" in state["fault"]["reason"]
        journal = [e for e in await read_events(settings, settings.topic("jackpot-events"), jackpot_id.encode())
                   if e["kind"] == "JackpotFaulted"]
        assert len(journal) == 1
        assert worker.alive()
    finally:
        await conn.close()


async def test_excluded_and_self_excluded_players_feed_no_pool(settings, spawn):
    config = one_level_config()
    jackpot_id = config["jackpot_id"]
    await publish_configs(settings, [config])
    now = dt.datetime.now(dt.timezone.utc)
    profiles = [("PlayerProfile", {
        "event_id": str(uuid.uuid4()), "timestamp": now, "player_id": player, "brand_id": "brand-royal",
        "segments": [], "vip_tier": "", "loyalty_tier": 0, "kyc_verified": True, "jurisdiction": "MT",
        "excluded": excluded, "self_excluded": self_excluded})
        for player, excluded, self_excluded in (("player-barred", True, False), ("player-paused", False, True),
                                                ("player-ok", False, False))]
    await produce_player_events(settings, "player-profiles", profiles)
    spawn("exclusion-worker", "worker")

    async def known():
        for player in ("player-barred", "player-paused", "player-ok"):
            value = await table_value(settings, PLAYERS, player.encode())
            if not value or not value["profile"]:
                return None
        return True

    await wait_for(known, timeout=120, what="the three profiles in the players table")
    bets = [_bet(p) for p in ("player-barred", "player-paused", "player-ok") for _ in range(2)]
    await produce_bets(settings, bets)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await wait_for(lambda: conn.fetchval("SELECT count(*) = 2 FROM contributions WHERE jackpot_id = $1",
                                             jackpot_id), timeout=120, what="the eligible player's two ledger rows")

        last = {}  # bets partition -> offset of its last bet: the jackpot's marks reach them all
        for m in await read_topic(settings, settings.topic("bets")):
            if m.key in (b"player-barred", b"player-paused", b"player-ok"):  # this test's bets only
                last[str(m.partition)] = max(last.get(str(m.partition), -1), m.offset)

        async def all_applied():
            marks = (await table_value(settings, TABLE_NAME, jackpot_id.encode()))["bet_marks"]
            return all(marks.get(p, -1) >= offset for p, offset in last.items())

        await wait_for(all_applied, timeout=60, what="all six bets applied by the jackpot")
        players = [r["player_id"] for r in await conn.fetch(
            "SELECT player_id FROM contributions WHERE jackpot_id = $1", jackpot_id)]
        assert players == ["player-ok", "player-ok"]
    finally:
        await conn.close()


async def test_a_launch_pre_seed_is_in_the_pool_before_the_first_bet(settings, spawn):
    """Spec (Pre-Seeding): configured on the level, applied by the activation, metered apart."""
    config = one_level_config()
    config["levels"][0]["pre_seed"] = "2500"  # seed 1000 + 2500 < win_from 5000
    jackpot_id, grand = config["jackpot_id"], config["levels"][0]["level_id"]
    await publish_configs(settings, [config])
    spawn("pre-seed-worker", "worker")
    await produce_bets(settings, [_bet()])
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await wait_for(lambda: conn.fetchrow(
            "SELECT amount, reason FROM pool_adjustments WHERE jackpot_id = $1", jackpot_id), timeout=120,
            what="the PRE_SEED adjustment in PostgreSQL")
        assert (row["amount"], row["reason"]) == (Decimal("2500"), "PRE_SEED")
        rec = await table_value(settings, TABLE_NAME, jackpot_id.encode())
        pool = rec["state"]["pools"]["EUR"][grand]
        assert pool["cycle_pre_seed"] == 2_500_000_000 and pool["seed_amount"] == 3_500_000_000
        await wait_for(lambda: conn.fetchval("SELECT count(*) = 1 FROM contributions WHERE jackpot_id = $1",
                                             jackpot_id), timeout=60, what="the bet in the ledger")
    finally:
        await conn.close()


async def test_a_withdrawn_config_faults_its_jackpot_and_holds_its_bets(settings, spawn):
    """Regulatory item 11: loss of configuration is a fault state. A tombstone on the configs topic
    used to leave the jackpot's inputs dead-lettered as having no configuration; now the next clock
    tick faults it under the config it last ran (inputs still on their way are held, as in any
    fault), and an operator brings it back by publishing a config and clearing the fault."""
    from jackpot.streams.kafka import producer

    from .helpers import send_command

    config, worker, pool = await _fed_jackpot(settings, spawn, "lost-config-worker")
    jackpot_id = config["jackpot_id"]

    await wait_for(lambda: _fed(pool), timeout=120, what="the first bet in the pool")
    async with producer(settings) as prod:  # withdrawn: a tombstone, as a careless operator would send
        await prod.send_and_wait(settings.topic("jackpot-configs"), key=jackpot_id.encode(), value=None)

    async def faulted():
        p = await pool()
        return p if p["status"] == "PAUSED" and p["fault"] else None

    before = await wait_for(faulted, timeout=60, what="the jackpot faulted by the withdrawal")
    assert before["fault"]["actor"] == "system:config" and "withdrawn" in before["fault"]["reason"]
    assert worker.alive()
    await publish_configs(settings, [config])
    await send_command(settings, jackpot_id, action="clear_fault", actor="ops-lead", reason="config restored")

    async def back():
        p = await pool()
        return p if p["status"] == "ACTIVE" and not p["fault"] else None

    await wait_for(back, timeout=60, what="the jackpot back to ACTIVE after the config and clear_fault")


async def _fed_jackpot(settings, spawn, worker_name: str):
    """A one-level jackpot, its worker, and a first bet on its way; ``pool()`` reads the EUR pool
    with the jackpot's status and fault from the table."""
    config = one_level_config()
    jackpot_id, grand = config["jackpot_id"], config["levels"][0]["level_id"]
    await publish_configs(settings, [config])
    worker = spawn(worker_name, "worker", JACKPOT_CLOCK_INTERVAL_S="0.5")
    await produce_bets(settings, [_bet()])

    async def pool():
        rec = await table_value(settings, TABLE_NAME, jackpot_id.encode())
        return None if rec is None else {**rec["state"]["pools"]["EUR"][grand], "status": rec["state"]["status"],
                                         "fault": rec["state"].get("fault")}

    return config, worker, pool


async def _fed(pool):
    p = await pool()
    return p if p and p["visible"] > 1_000_000_000 else None


async def test_a_rejected_config_version_faults_its_jackpot(settings, spawn):
    """Regulatory item 11: a config version the engine cannot compile (written around the admin
    API's and the CLI's validation) used to be logged and ignored, the jackpot running on its old
    version while the operator believed the new one in force; now the jackpot is faulted under the
    version it last ran, and a bet after it is held, not applied."""
    import json

    from jackpot.streams.kafka import producer

    config, worker, pool = await _fed_jackpot(settings, spawn, "rejected-config-worker")
    jackpot_id = config["jackpot_id"]

    await wait_for(lambda: _fed(pool), timeout=120, what="the first bet in the pool")
    broken = copy.deepcopy(config)
    broken["levels"][0]["win_from"] = "20000"  # above win_max: no engine accepts this
    async with producer(settings) as prod:
        await prod.send_and_wait(settings.topic("jackpot-configs"), key=jackpot_id.encode(),
                                 value=json.dumps(broken).encode())

    async def faulted():
        p = await pool()
        return p if p["status"] == "PAUSED" and p["fault"] else None

    p = await wait_for(faulted, timeout=60, what="the jackpot faulted by the rejected version")
    assert p["fault"]["actor"] == "system:config" and "configuration version rejected" in p["fault"]["reason"]
    shown = p["visible"]
    await produce_bets(settings, [_bet(amount="40.00")])

    async def held():
        q = await pool()
        return q if q["pending"] > 0 else None

    q = await wait_for(held, timeout=60, what="the bet held in pending")
    assert q["visible"] == shown
    events = await read_events(settings, settings.topic("jackpot-events"), jackpot_id.encode())
    assert any(e["kind"] == "JackpotFaulted" for e in events)
    assert worker.alive(), worker.log_tail()


async def test_a_network_jackpot_pools_bets_of_other_currencies_at_its_rate(settings, spawn):
    """Issue 21 gap 13: a network jackpot configured with explicit rates takes GBP bets into its EUR
    pool; each ledger row keeps the bet as made, the rate and the converted amount."""
    config = one_level_config(network={"rates": {"GBP": "1.17"}})
    jackpot_id = config["jackpot_id"]
    await publish_configs(settings, [config])
    worker = spawn("network-worker", "worker")
    await produce_bets(settings, [_bet(currency="GBP", amount="10.00"), _bet(currency="EUR", amount="10.00")])
    conn = await asyncpg.connect(settings.database_url)
    try:
        await wait_for(lambda: conn.fetchval("SELECT count(*) = 2 FROM contributions WHERE jackpot_id = $1", jackpot_id),
                       timeout=120, what="both bets in the ledger")
        rows = await conn.fetch("SELECT currency::text AS currency, bet_amount, gross_amount, bet_currency::text AS bc, "
                                "original_bet_amount, fx_rate FROM contributions WHERE jackpot_id = $1 "
                                "ORDER BY bet_currency NULLS FIRST", jackpot_id)
    finally:
        await conn.close()
    eur, gbp = rows
    assert (eur["currency"], eur["bc"], eur["fx_rate"]) == ("EUR", None, None)
    assert (gbp["currency"], gbp["bc"], gbp["original_bet_amount"], gbp["fx_rate"]) == \
        ("EUR", "GBP", Decimal("10.000000"), Decimal("1.170000000000"))
    assert gbp["bet_amount"] == Decimal("11.700000")  # converted exactly
    assert gbp["gross_amount"] == Decimal("11.700000") * Decimal("0.015") * Decimal("1.2")  # rate x coefficient
    assert worker.alive(), worker.log_tail()
