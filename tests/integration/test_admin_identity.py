"""One owner of jackpot identity, on the real stack.

Every configuration published by ``jackpot config apply`` is recorded with its actor, audited and
given a Back Office record, so the admin API lists it, scopes it by the config's brands and controls
it; a jackpot id known anywhere (PostgreSQL or only the configs topic) cannot be taken by a new
draft; saved templates stay within their brands; an operator command commits with its audit
entry and outbox row, is delivered by the relay when the broker was unreachable, and is applied
once even when delivered twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from decimal import Decimal

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from jackpot.streams.codec import catalog
from jackpot.streams.kafka import client_options, producer
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import demo_portfolio, normalise, publish_configs

from .conftest import wait_for
from .helpers import one_level_config, read_engine_events, read_events, read_topic
from .test_admin_support import LEVELS, admin, call, full_draft, http, identity  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def worker(spawn):
    return spawn("identity-worker", "worker", JACKPOT_CLOCK_INTERVAL_S="0.5")


@pytest_asyncio.fixture(scope="module")
async def db(settings):
    conn = await asyncpg.connect(settings.database_url)
    yield conn
    await conn.close()


async def receipts_of(settings, jackpot_id: str, command_id: str) -> list[dict]:
    events = await read_engine_events(settings, jackpot_id.encode(), topic="audit-events",
                                      kinds=("OperatorActionRecorded",))
    return [e for e in events if e["payload"].get("command_id") == command_id]


async def test_cli_published_portfolio_is_listed_scoped_controllable_and_audited(admin, http, settings, db, worker):
    # not a blocking subprocess.run: the admin app under test shares this event loop
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jackpot.cli", "config", "apply", "--demo", "--actor", "ops-alice",
        env={**os.environ, **settings.to_env()}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, out.decode()[-3000:]
    docs = demo_portfolio()
    ids = {d["jackpot_id"] for d in docs}

    # listed and counted for an all-brands admin
    boss = await admin.token("admin", all_brands=True, actor="boss")
    status, listed, _ = await call(http, "GET", f"{admin.url}/v1/jackpots?limit=500", boss)
    assert status == 200, listed
    assert ids <= {i["jackpot_id"] for i in listed["items"]}
    status, dash, _ = await call(http, "GET", f"{admin.url}/v1/dashboard", boss)
    assert status == 200 and dash["jackpots"] >= len(ids), dash

    # scoped by the published config's brands
    crown = next(d for d in docs if d["name"] == "Crown Fortune")
    jid = crown["jackpot_id"]
    outsider = await admin.token("manager", [admin.brand("elsewhere")])
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}", outsider)
    assert status == 403, body
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/jackpots", outsider)
    assert status == 200 and not ids & {i["jackpot_id"] for i in body["items"]}
    insider = await admin.token("manager", list(crown["brands"]), actor="crown-manager")
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}", insider)
    assert status == 200 and body["status"] == "ACTIVE" and body["published_version"] == 1, body
    assert sorted(body["brands"]) == sorted(crown["brands"])

    # recorded and audited with the CLI's actor, in the same transaction
    versions = await db.fetch("SELECT jackpot_id, actor FROM jackpot_config_versions WHERE jackpot_id = ANY($1)",
                              list(ids))
    assert {r["jackpot_id"] for r in versions} == ids and {r["actor"] for r in versions} == {"ops-alice"}
    audited = await db.fetch("SELECT jackpot_id, actor, body FROM audit_log WHERE event_type = 'ConfigPublished' "
                             "AND jackpot_id = ANY($1)", list(ids))
    assert {r["jackpot_id"] for r in audited} == ids and {r["actor"] for r in audited} == {"ops-alice"}
    assert all(json.loads(r["body"])["source"] == "cli" for r in audited)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'config' AND sent_at IS NULL") == 0

    # controllable: a force drop on Crown Fortune is applied by the running worker
    mini = next(lv for lv in crown["levels"] if lv["name"] == "Mini")
    now = dt.datetime.now(dt.timezone.utc)
    await produce_bets(settings, [{
        "event_id": str(uuid.uuid4()), "timestamp": now, "player_id": f"player-{i}",
        "game_id": crown["games"][0]["game_id"], "brand_id": crown["brands"][0], "currency": "EUR",
        "bet_amount": Decimal("2.00"), "bet_type": "real", "session_id": f"s-{i}"} for i in range(5)])

    async def mini_grew():
        updates = await read_events(settings, settings.topic("pool-updated"), jid.encode())
        return [u for u in updates if u["level_id"] == mini["level_id"] and u["visible_amount"] > 0]

    await wait_for(mini_grew, timeout=180, what="the bets in Crown Fortune's Mini pool")
    status, cmd, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/force-drop?wait_s=30", insider,
                                json_body={"level_id": mini["level_id"], "currency": "EUR",
                                           "reason": "identity check", "confirmation": "Crown Fortune"})
    assert status == 200 and cmd["state"] == "applied", cmd
    assert worker.alive(), worker.log_tail()


async def test_a_jackpot_id_taken_anywhere_is_refused(admin, http, settings, db):
    brand_a, brand_b = admin.brand("owner"), admin.brand("taker")
    taker = await admin.token("manager", [brand_b])

    # published by the CLI path (recorded in PostgreSQL)
    published = one_level_config(brands=[brand_a])
    await publish_configs(settings, [published], actor="ops-bob")
    status, body, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", taker, json_body={
        "jackpot_id": published["jackpot_id"], "identity": identity([brand_b], "Taken Over")})
    assert status == 409 and body["type"].endswith("already-exists"), body

    # only on the configs topic (published around PostgreSQL): refused too, then adopted
    raw = one_level_config(brands=[brand_a], name="Bus Only Fortune")
    rid = raw["jackpot_id"]
    async with producer(settings) as prod:
        await prod.send_and_wait(settings.topic("jackpot-configs"), key=rid.encode(), value=normalise(raw)[1])
    await wait_for(lambda: admin.services.on_bus(rid), timeout=30, what="the admin API's view of the topic")
    status, body, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", taker, json_body={
        "jackpot_id": rid, "identity": identity([brand_b], "Taken Over")})
    assert status == 409, body
    row = await wait_for(lambda: db.fetchrow(
        "SELECT brands, created_by, status, published_version FROM admin_jackpots WHERE jackpot_id = $1", rid),
        timeout=30, what="the adoption of the topic-only config")
    assert list(row["brands"]) == [brand_a] and row["created_by"] == "bus" and row["published_version"] == 1
    assert await db.fetchval("SELECT actor FROM audit_log WHERE event_type = 'ConfigPublished' AND jackpot_id = $1",
                             rid) == "bus"
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{rid}", taker)
    assert status == 403, body

    # level ids are the system's: a client cannot name another jackpot's level
    foreign = published["levels"][0]["level_id"]
    levels = {**LEVELS, "levels": [{**LEVELS["levels"][0], "level_id": foreign}]}
    status, body, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", taker, json_body={
        "identity": identity([brand_b], "Borrowed Levels"), "levels": levels})
    assert status == 422 and body["type"].endswith("level-id-not-allowed"), body
    status, draft, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", taker,
                                  json_body={"identity": identity([brand_b], "Own Levels"), "levels": LEVELS})
    assert status == 201, draft
    own = draft["steps"]["levels"]["levels"][0]["level_id"]
    for level_id, expected in ((foreign, 422), (own, 200)):
        status, body, _ = await call(http, "PUT", f"{admin.url}/v1/jackpots/{draft['jackpot_id']}/steps/levels", taker,
                                     json_body={**LEVELS, "levels": [{**LEVELS["levels"][0], "level_id": level_id}]})
        assert status == expected, body


async def test_a_saved_template_is_not_readable_across_brands(admin, http):
    brand_a, brand_b = admin.brand("tpl-a"), admin.brand("tpl-b")
    owner = await admin.token("manager", [brand_a])
    other = await admin.token("manager", [brand_b])
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", owner, json_body=full_draft([brand_a]))
    assert status == 201, jp
    name = f"secret_{admin.run}"
    status, body, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jp['jackpot_id']}/save-as-template", owner,
                                 json_body={"name": name})
    assert status == 201, body

    status, across, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/from-template", other,
                                   json_body={"template": name, "identity": identity([brand_b], "Copied")})
    status_missing, missing, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/from-template", other, json_body={
        "template": f"nothing_{admin.run}", "identity": identity([brand_b], "Copied")})
    assert status == status_missing == 404, across
    assert across["type"] == missing["type"]
    status, mine, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/from-template", owner,
                                 json_body={"template": name, "identity": identity([brand_a], "Copied")})
    assert status == 201 and mine["template"] == name, mine


async def test_an_operator_command_delivered_twice_is_applied_once(settings, worker):
    config = one_level_config(brands=["brand-dup"], name="Dedup Fortune")
    jid = config["jackpot_id"]
    await publish_configs(settings, [config], actor="ops-dup")
    cid, marker = str(uuid.uuid4()), str(uuid.uuid4())
    codec = catalog()

    def command(event_id: str, action: str) -> bytes:
        return codec.encode("OperatorCommand", {
            "event_id": event_id, "timestamp": dt.datetime.now(dt.timezone.utc), "jackpot_id": jid, "action": action,
            "actor": "outbox-relay", "reason": "delivered twice"})

    twice = command(cid, "pause")
    async with producer(settings) as prod:
        for value in (twice, twice, command(marker, "resume")):
            await prod.send_and_wait(settings.topic("operator-commands"), key=jid.encode(), value=value)
    await wait_for(lambda: receipts_of(settings, jid, marker), timeout=180, what="the marker command's receipt")
    assert len(await receipts_of(settings, jid, cid)) == 1
    assert worker.alive(), worker.log_tail()


async def test_a_command_commits_with_its_audit_and_is_relayed_after_a_broker_outage(admin, http, settings, db,
                                                                                    worker):
    brand = admin.brand("relay")
    config = one_level_config(brands=[brand], name="Relay Fortune")
    jid = config["jackpot_id"]
    await publish_configs(settings, [config], actor="ops-relay")
    operator = await admin.token("operator", [brand], actor="relay-operator")
    services = admin.services

    # the broker is unreachable for the admin process: its producer is gone
    await services.producer.stop()
    status, body, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/pause", operator,
                                 json_body={"reason": "outage drill"})
    assert status == 503 and body["type"].endswith("command-not-confirmed"), body
    cid = body["command_id"]
    assert await db.fetchval("SELECT actor FROM admin_commands WHERE command_id = $1", uuid.UUID(cid)) == \
        "relay-operator"
    audited = [json.loads(r["body"]) for r in await db.fetch(
        "SELECT body FROM audit_log WHERE event_type = 'AdminAction' AND jackpot_id = $1", jid)]
    assert [a["after"]["command_id"] for a in audited if a["action"] == "command:pause"] == [cid]
    queued = await db.fetchrow("SELECT sent_at FROM outbox WHERE kind = 'command' AND ref = $1", cid)
    assert queued is not None and queued["sent_at"] is None
    assert not [m for m in await read_topic(settings, settings.topic("operator-commands"), jid.encode())
                if str(catalog().decode(m.value)[1]["event_id"]) == cid]

    # the broker answers again: the relay delivers the command, and the worker applies it
    fresh = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await fresh.start()
    services.producer = services.outbox.producer = services.bus.producer = fresh
    await wait_for(lambda: db.fetchval("SELECT sent_at FROM outbox WHERE kind = 'command' AND ref = $1", cid),
                   timeout=60, what="the relay to send the queued command")
    receipts = await wait_for(lambda: receipts_of(settings, jid, cid), timeout=180, what="the command's receipt")
    assert receipts[0]["payload"]["outcome"] == "applied", receipts
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/commands/{cid}", operator)
    assert status == 200 and body["state"] == "applied", body

    # sent rows are pruned after a week; newer ones stay
    await db.execute("UPDATE outbox SET sent_at = now() - interval '8 days' WHERE ref = $1", cid)
    recent = await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at > now() - interval '1 day'")
    assert recent > 0
    assert await services.outbox.prune() == 1
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE ref = $1", cid) == 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at > now() - interval '1 day'") >= recent
