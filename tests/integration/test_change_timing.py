"""Change timing of math edits on the real stack (regulatory item 7): under a profile that lets
math take effect only after the current jackpot is won (Romania's), an immediate or scheduled rate
change is refused, and a ``next_cycle`` one (the API's default) waits while the cycle runs, then
is published by the admin scheduler once the level has dropped and reseeded; later bets use it.
Before, a next_cycle math change stayed pending for ever."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
import pytest

from jackpot.streams.loadgen import produce_bets

from .conftest import wait_for
from .helpers import read_events, reference_wallet
from .test_admin_support import admin, call, full_draft, http  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def _bets(brand: str, n: int) -> list[dict]:
    return [{"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": f"player-{i}",
             "game_id": "starburst", "brand_id": brand, "currency": "RON", "bet_amount": Decimal("2.00"),
             "bet_type": "real", "session_id": f"s-{i}"} for i in range(n)]


async def test_a_next_cycle_rate_change_applies_after_the_drop_and_not_before(admin, http, settings, spawn):
    wallet_url = await reference_wallet(spawn, "timing-wallet")
    brand = admin.brand("timing")
    manager = await admin.token("manager", [brand], actor="manager-timing")
    name = "Timing Fortune"
    draft = full_draft([brand], name)
    draft["identity"].update(compliance_profile="RO", currencies=["RON"])
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager, json_body=draft)
    assert status == 201, jp
    jid, levels = jp["jackpot_id"], jp["steps"]["levels"]
    level_id = levels["levels"][0]["level_id"]
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/activate", manager,
                                json_body={"confirm": True})
    assert status == 200, res
    worker = spawn("timing-worker", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S="0.5")
    conn = await asyncpg.connect(settings.database_url)

    async def grosses() -> list[Decimal]:
        rows = await conn.fetch("SELECT gross_amount FROM contributions WHERE jackpot_id = $1 ORDER BY bet_ts", jid)
        return [r["gross_amount"] for r in rows]

    try:
        await produce_bets(settings, _bets(brand, 2))
        await wait_for(lambda: _count(grosses, 2), timeout=120, what="the first two ledger rows")
        url = f"{admin.url}/v1/jackpots/{jid}/changes"
        raised = {"changes": {"levels": {**levels, "contribution_rate": "0.02"}}, "reason": "more growth"}
        at = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).isoformat()
        status, prob, _ = await call(http, "POST", url, manager, json_body={**raised, "apply": "scheduled",
                                                                           "apply_at": at})
        assert status == 422 and prob["type"].endswith("/apply-immediately-prohibited"), prob
        status, change, _ = await call(http, "POST", url, manager, json_body=raised)  # next_cycle: the default
        assert status == 200 and change["state"] == "pending" and change["apply_timing"] == "next_cycle", change

        await produce_bets(settings, _bets(brand, 2))  # the cycle runs on: the old rate
        await wait_for(lambda: _count(grosses, 4), timeout=60, what="two more ledger rows")
        status, hist, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/history", manager)
        assert hist["changes"][0]["state"] == "pending"
        assert set(await grosses()) == {Decimal("0.036")}  # 2.00 x 1.5% x coefficient 1.2

        status, cmd, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/force-drop?wait_s=30", manager,
                                    json_body={"level_id": level_id, "reason": "end of cycle", "confirmation": name})
        assert status == 200 and cmd["state"] == "applied", cmd
        await wait_for(lambda: read_events(settings, settings.topic("jackpot-reseeded"), jid.encode()), timeout=120,
                       what="the reseed after the drop")

        async def applied():
            status, hist, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/history", manager)
            return hist if hist["changes"][0]["state"] == "applied" else None

        hist = await wait_for(applied, timeout=60, what="the next_cycle change published after the reseed")
        assert hist["versions"][0]["version"] == change_version(hist)

        async def new_rate():  # the worker adopts the new version; bets after it use 2%
            await produce_bets(settings, _bets(brand, 1))
            return Decimal("0.048") in await grosses() or None

        await wait_for(new_rate, timeout=60, interval=2.0, what="a bet at the new rate (2.00 x 2% x 1.2)")
        assert worker.alive(), worker.log_tail()
    finally:
        await conn.close()


async def _count(grosses, n: int):
    return len(await grosses()) >= n or None


def change_version(hist: dict) -> int:
    return hist["changes"][0]["version"]


async def test_the_cli_holds_a_math_change_the_profile_forbids_mid_cycle(settings):
    """Regulatory item 7: `jackpot config apply` used to publish any version at once, around the
    admin API's rules. A rate change of a Romanian jackpot (math only after the current jackpot
    is won) is now recorded as the API's pending next_cycle change; the live version stays."""
    import copy

    import asyncpg

    from jackpot.engine.catalog import PROFILES
    from jackpot.streams.publish import publish_configs

    from .helpers import one_level_config

    v1 = one_level_config(compliance_profile=PROFILES["RO"].model_dump(mode="json"), currencies=["RON"])
    jid = v1["jackpot_id"]
    assert await publish_configs(settings, [v1], actor="ops-ro") == [jid]
    v2 = copy.deepcopy(v1)
    v2["contribution_rate"] = "0.02"
    held: list[str] = []
    assert await publish_configs(settings, [v2], actor="ops-ro", held=held) == [] and held == [jid]
    conn = await asyncpg.connect(settings.database_url)
    try:
        live = await conn.fetchval("SELECT v.config ->> 'contribution_rate' FROM jackpot_configs c JOIN "
                                   "jackpot_config_versions v ON v.jackpot_id = c.jackpot_id AND "
                                   "v.version = c.current_version WHERE c.jackpot_id = $1", jid)
        pending = await conn.fetch("SELECT apply_timing, state, created_by FROM admin_config_changes "
                                   "WHERE jackpot_id = $1", jid)
    finally:
        await conn.close()
    assert live == "0.015"
    assert [(r["apply_timing"], r["state"], r["created_by"]) for r in pending] == [("next_cycle", "pending", "ops-ro")]
