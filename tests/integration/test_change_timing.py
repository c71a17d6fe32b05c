"""Change timing of math edits on the real stack (regulatory item 7): under a profile that lets
math take effect only after the current jackpot is won (Romania's), an immediate or scheduled rate
change is refused, and a ``next_cycle`` one (the API's default) goes to the engine, waits while the
cycle runs, then takes effect at the reseed itself: the engine draws the new cycle under it and
the first bet after uses it, before the admin scheduler (slowed down here) records it as the
published version. A cancellation is the engine's call too: accepted before the take, refused
after it, and one that crossed the take changes nothing. Before, a next_cycle math change stayed
pending for ever; then it was published a scheduler pass after the reseed, so the new cycle's seed
and first bets were under the old math."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web

from jackpot.gateway.admin.app import create_admin_app
from jackpot.gateway.admin.publication import withdraw_change

from jackpot.streams.loadgen import produce_bets

from .conftest import free_port, wait_for
from .helpers import read_events, reference_wallet
from .test_admin_support import AdminServer, call, full_draft, http  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module")
async def admin(settings):
    """The admin API with a scheduler that does not come round during a test: what happens at the
    reseed is the engine's own doing."""
    app = create_admin_app(settings.model_copy(update={"admin_command_wait_s": 20.0,
                                                       "admin_scheduler_interval_s": 3600.0}))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield AdminServer(f"http://127.0.0.1:{port}", app, uuid.uuid4().hex[:8])
    finally:
        await runner.cleanup()


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
        new_levels = {**levels, "contribution_rate": "0.02",
                      "levels": [{**levels["levels"][0], "seed_from": "1500", "seed_to": "1500"}]}
        raised = {"changes": {"levels": new_levels}, "reason": "more growth, a higher seed"}
        at = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).isoformat()
        status, prob, _ = await call(http, "POST", url, manager, json_body={**raised, "apply": "scheduled",
                                                                           "apply_at": at})
        assert status == 422 and prob["type"].endswith("/apply-immediately-prohibited"), prob
        async def action(command_id: str, action: str):  # the engine's record of a command, in PostgreSQL
            return await conn.fetchrow("SELECT outcome, detail FROM operator_actions WHERE command_id = $1 "
                                       "AND action = $2", command_id, action)

        # a first change, cancelled before its cycle ends: the engine accepts the cancellation
        status, first, _ = await call(http, "POST", url, manager, json_body={
            "changes": {"levels": {**levels, "contribution_rate": "0.05"}}, "reason": "too much"})
        assert status == 200 and first["state"] == "pending", first
        status, cancelled, _ = await call(http, "POST", f"{url}/{first['change_id']}/cancel", manager,
                                          json_body={"reason": "second thoughts"})
        assert status == 200 and cancelled["state"] == "cancelled", cancelled
        status, change, _ = await call(http, "POST", url, manager, json_body=raised)  # next_cycle: the default
        assert status == 200 and change["state"] == "pending" and change["apply_timing"] == "next_cycle", change
        scheduled = await wait_for(lambda: action(change["change_id"], "schedule_change"), timeout=60,
                                   what="the engine keeping the change")
        assert scheduled["outcome"] == "applied", dict(scheduled)

        await produce_bets(settings, _bets(brand, 2))  # the cycle runs on: the old rate
        await wait_for(lambda: _count(grosses, 4), timeout=60, what="two more ledger rows")
        assert set(await grosses()) == {Decimal("0.036")}  # 2.00 x 1.5% x coefficient 1.2

        status, cmd, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/force-drop?wait_s=30", manager,
                                    json_body={"level_id": level_id, "reason": "end of cycle", "confirmation": name})
        assert status == 200 and cmd["state"] == "applied", cmd
        reseeded = await wait_for(lambda: read_events(settings, settings.topic("jackpot-reseeded"), jid.encode()),
                                  timeout=120, what="the reseed after the drop")
        assert Decimal(str(reseeded[0]["new_seed_amount"])) == Decimal("1500")  # the new cycle: the new seed
        await produce_bets(settings, _bets(brand, 1))  # the first bet after the reseed: the new rate
        await wait_for(lambda: _count(grosses, 5), timeout=60, what="the bet after the reseed")
        assert (await grosses())[-1] == Decimal("0.048")  # 2.00 x 2% x 1.2
        status, hist, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/history", manager)
        assert hist["changes"][0]["state"] == "pending"  # the engine took it, not the scheduler
        taken = await wait_for(lambda: action(change["change_id"], "next_cycle"), timeout=60,
                               what="the engine's record that it took the change")
        assert taken["outcome"] == "applied"
        status, prob, _ = await call(http, "POST", f"{url}/{change['change_id']}/cancel", manager,
                                     json_body={"reason": "too late"})
        assert status == 409 and prob["type"].endswith("/already-taking-effect"), prob

        # the take is in the jackpot's state: a worker killed now runs on under the new version
        worker.kill()
        worker = spawn("timing-worker-2", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S="0.5")
        await produce_bets(settings, _bets(brand, 1))
        await wait_for(lambda: _count(grosses, 6), timeout=120, what="a bet after the restart")
        assert (await grosses())[-1] == Decimal("0.048")

        # A cancellation that crossed the take (accepted here before the take was known): the engine
        # refuses it, and the scheduler applies the change after all.
        async with admin.services.pool.acquire() as c, c.transaction():
            await c.execute("UPDATE admin_config_changes SET state = 'cancelled' WHERE change_id = $1",
                            uuid.UUID(change["change_id"]))
            cancel_id, _ = await withdraw_change(c, jid, change["change_id"], topic=admin.services.bus.topic,
                                                 actor="manager-timing")
        await admin.services.outbox.flush()
        refused = await wait_for(lambda: action(cancel_id, "cancel_change"), timeout=60, what="the engine's answer")
        assert refused["outcome"] == "rejected" and "in effect" in refused["detail"], dict(refused)
        await produce_bets(settings, _bets(brand, 1))
        await wait_for(lambda: _count(grosses, 7), timeout=60, what="a bet after the crossed cancellation")
        assert (await grosses())[-1] == Decimal("0.048")

        assert await admin.services.apply_next_cycle_changes() == 1  # the scheduler's pass records it
        status, hist, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/history", manager)
        assert hist["changes"][0]["state"] == "applied" and hist["versions"][0]["version"] == change_version(hist)
        await produce_bets(settings, _bets(brand, 1))
        await wait_for(lambda: _count(grosses, 8), timeout=60, what="a bet under the published version")
        assert (await grosses())[-1] == Decimal("0.048")
        # published as live, the taken version is forgotten: the next change is kept, not refused
        status, again, _ = await call(http, "POST", url, manager, json_body={
            "changes": {"levels": {**new_levels, "contribution_rate": "0.015"}}, "reason": "back to normal"})
        assert status == 200 and again["state"] == "pending", again
        kept = await wait_for(lambda: action(again["change_id"], "schedule_change"), timeout=60,
                              what="the engine's answer to the next change")
        assert kept["outcome"] == "applied", dict(kept)
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
