"""The bus authenticates and authorises: on a SASL_SSL broker with ACLs (ops/kafka_auth.py), a real
worker, sinks process and gateway run with their own principals and carry a bet a provider published
through to the ledger and a WebSocket, while a provider (or the public gateway) cannot publish an
operator command or read a jackpot's changelog, and a client without valid credentials is not let
in at all.

A second broker of its own (other ports, a throw-away directory) runs secured; the module's
PostgreSQL database and Redis namespace are the shared stack's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import uuid
from decimal import Decimal

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ClusterAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError

from jackpot.ops.stack import Stack
from jackpot.streams.kafka import client_options, producer, read_to_end
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.streams.topics import ensure_topics
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import free_port, wait_for
from .helpers import http_ready, one_level_config, table_value

pytestmark = pytest.mark.integration

TOPIC_AUTHORIZATION_FAILED = 29  # Kafka's error code


def free_port_pair() -> int:
    """A port whose next one is free too (the broker's client and controller listeners)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


@pytest.fixture(scope="module")
def bus(settings, tmp_path_factory):
    """A SASL_SSL broker with the ACLs of this module's deployment and its topics created (as ops)."""
    base = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port_pair()}",
                                       "stack_dir": tmp_path_factory.mktemp("secured-stack")})
    stack = Stack(base, kafka_security="sasl_ssl", manage=("kafka",))
    stack.up()  # formats with the SCRAM users, starts, applies the ACLs
    try:
        asyncio.run(ensure_topics(stack.client_settings("ops")))
        yield stack
    finally:
        stack.down()


async def test_worker_sinks_and_gateway_carry_a_providers_bet_with_their_own_principals(bus, spawn):
    config = one_level_config()
    jackpot_id, level_id = config["jackpot_id"], config["levels"][0]["level_id"]
    await publish_configs(bus.client_settings("admin"), [config])
    # the sinks in a process of their own, with their own principal
    worker_env = bus.client_settings("worker").to_env() | {"JACKPOT_WORKER_SINKS": "false"}
    sinks_env = bus.client_settings("sinks").to_env() | {"JACKPOT_SINKS_WEB_PORT": str(free_port())}
    gateway_env = bus.client_settings("gateway").to_env() | {"JACKPOT_GATEWAY_METRICS_PORT": str(free_port()),
                                                             "JACKPOT_GATEWAY_SMOOTHING": "0"}
    worker = spawn("secured-worker", "worker", **worker_env)
    sinks = spawn("secured-sinks", "sinks", **sinks_env)
    gateway = spawn("secured-gateway", "gateway", **gateway_env)
    base = f"http://127.0.0.1:{gateway_env['JACKPOT_GATEWAY_PORT']}"
    await http_ready(f"http://127.0.0.1:{worker_env['JACKPOT_WORKER_WEB_PORT']}/ready", timeout=120,
                     procs=[worker, sinks, gateway])
    await http_ready(f"{base}/ready", timeout=120, procs=[worker, sinks, gateway])

    bet_id = str(uuid.uuid4())
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}/ws?jackpot={jackpot_id}") as ws:
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "snapshot"
        await produce_bets(bus.client_settings("provider"), [{
            "event_id": bet_id, "timestamp": dt.datetime.now(dt.timezone.utc),
            "player_id": "player-secured", "game_id": "starburst", "brand_id": "brand-royal",
            "currency": "EUR", "bet_amount": Decimal("2.00"), "bet_type": "real", "session_id": "session-secured",
        }])

        async def frame():  # the gateway read PoolUpdated with its read-only principal
            msg = json.loads((await ws.receive(timeout=60)).data)
            return msg if msg["type"] == "pool" and msg["pool"]["visible_amount"] == "1000.032400" else None

        await wait_for(frame, timeout=90, what="the new amount pushed by the gateway")

    ops = bus.client_settings("ops")

    async def applied():
        record = await table_value(ops, TABLE_NAME, jackpot_id.encode(), timeout=30)
        return record if record and record["state"]["pools"]["EUR"][level_id]["visible"] == 1_000_032_400 else None

    await wait_for(applied, timeout=90, interval=1.0, what="the bet applied by the worker")
    conn = await asyncpg.connect(bus.s.database_url)
    try:
        row = await wait_for(lambda: conn.fetchrow("SELECT * FROM contributions WHERE jackpot_id = $1", jackpot_id),
                             timeout=60, what="the ledger row written by the sinks")
        assert str(row["bet_id"]) == bet_id and row["gross_amount"] == Decimal("0.036000")
    finally:
        await conn.close()
    assert worker.alive() and sinks.alive() and gateway.alive()


@pytest.mark.parametrize("principal", ["provider", "gateway", "sinks"])
async def test_only_the_admin_api_and_the_engine_may_publish_operator_commands(bus, principal):
    # (a principal that may write no topic at all is refused even an idempotent producer id)
    with pytest.raises((TopicAuthorizationFailedError, ClusterAuthorizationFailedError)):
        async with producer(bus.client_settings(principal), request_timeout_ms=10_000) as prod:
            await prod.send_and_wait(bus.s.topic("operator-commands"), key=b"jp", value=b"forged")


async def test_a_provider_may_write_bets_but_not_read_them_or_a_changelog(bus):
    provider = bus.client_settings("provider")
    changelog = f"{bus.s.app_id}-{TABLE_NAME}-changelog"
    ops = bus.client_settings("ops")
    admin = AIOKafkaAdminClient(**client_options(ops))
    await admin.start()
    try:  # the worker of the first test created it; this test alone needs it too
        if changelog not in await admin.list_topics():
            await admin.create_topics([NewTopic(changelog, 1, 1)])
    finally:
        await admin.close()
    async with producer(ops) as prod:
        await prod.send_and_wait(changelog, key=b"probe", value=b"{}", partition=0)
    assert await read_to_end(ops, changelog, timeout=30), "ops reads the changelog"

    admin = AIOKafkaAdminClient(**client_options(provider))
    await admin.start()
    try:
        [described] = await admin.describe_topics([changelog])
        assert described["error_code"] == TOPIC_AUTHORIZATION_FAILED
        assert changelog not in await admin.list_topics()
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**client_options(provider), group_id=None, enable_auto_commit=False,
                                request_timeout_ms=10_000)
    await consumer.start()
    try:
        tp = TopicPartition(changelog, 0)
        consumer.assign([tp])
        assert await consumer.getmany(timeout_ms=3000) == {}, "the broker must not serve the changelog"
    finally:
        await consumer.stop()

    async with producer(provider) as prod:
        await prod.send_and_wait(bus.s.topic("bets"), key=b"player-x", value=b"not decoded here")
    consumer = AIOKafkaConsumer(**client_options(provider), group_id=None, request_timeout_ms=10_000)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(bus.s.topic("bets"), 0)])
        await consumer.seek_to_beginning()
        with pytest.raises(TopicAuthorizationFailedError):
            for _ in range(20):
                await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("how", ["plaintext", "wrong password", "no CA"])
async def test_a_client_without_valid_credentials_is_refused(bus, how):
    provider = bus.client_settings("provider")
    if how == "plaintext":
        opts = {"bootstrap_servers": provider.kafka_bootstrap_servers}
    elif how == "wrong password":
        opts = client_options(provider) | {"sasl_plain_password": "guessed"}
    else:  # the broker's certificate is not from a CA the system trusts
        opts = client_options(provider.model_copy(update={"kafka_ca_file": ""}))
    prod = AIOKafkaProducer(**opts, request_timeout_ms=5000)
    try:
        with pytest.raises(KafkaConnectionError):
            await prod.start()
    finally:
        await prod.stop()


async def test_the_gateways_database_role_reads_the_public_rules_and_nothing_else(bus):
    """Migration 0011: jackpot_readonly may SELECT what the gateway serves, no more."""
    conn = await asyncpg.connect(bus.s.database_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE jackpot_readonly")
            await conn.fetch("SELECT v.config, v.status, a.presentation FROM jackpot_configs c "
                             "JOIN jackpot_config_versions v ON v.jackpot_id = c.jackpot_id "
                             "LEFT JOIN admin_jackpots a ON a.jackpot_id = c.jackpot_id")
        for statement in ("SELECT * FROM admin_tokens", "SELECT * FROM contributions",
                          "DELETE FROM jackpot_configs", "UPDATE admin_jackpots SET presentation = '{}'"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute("SET LOCAL ROLE jackpot_readonly")
                    await conn.execute(statement)
    finally:
        await conn.close()
