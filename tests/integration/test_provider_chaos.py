"""A careless (or hostile) provider on the real stack: resends, reordering, lying clocks, garbage.

One worker on real Kafka, PostgreSQL and Redis takes a stream that mixes, with the valid bets:

- resends of bets already applied: the same bytes (some three times, some under another key, so
  on another partition), sent later, in two later waves;
- "conflicting duplicates": a known bet id with other content (another amount, another player);
- session starts and ends before, after and between their bets, at any provider time;
- provider timestamps 30 hours ahead and 30 hours behind (a must-drop jackpot whose deadline is
  hours away must not drop: the provider's clock steers nothing);
- garbage, truncated, oversize and huge-decimal messages, NUL and over-long ids, a negative amount.

It checks that every distinct valid bet is applied exactly once per jackpot (pools against the
pure-engine oracle, ledger rows against the oracle's pairs), that each bad message has exactly one
dead letter with a reason, that every input partition's committed offset reaches its end, that no
agent crashed and the worker is ready, and that the ledger reconciles with the pools.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import uuid
from decimal import Decimal
from types import SimpleNamespace

import aiohttp
import asyncpg
import pytest

from jackpot.engine.catalog import PROFILES, instantiate
from jackpot.sinks.reconcile import reconcile, summary
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import CatchUp, producer
from jackpot.streams.pipeline import Pipeline
from jackpot.streams.publish import publish_configs

from .conftest import free_port, wait_for
from .helpers import read_events
from .test_input_limits import huge_amount
from .portfolio import BRANDS, GAMES, Oracle, bets, portfolio
from .test_chaos import compare_pools
from .test_db_outage import bets_in, table_states

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

N_BETS = int(os.environ.get("JACKPOT_PROVIDER_CHAOS_BETS", "2000"))
LATER_S = float(os.environ.get("JACKPOT_PROVIDER_CHAOS_LATER_S", "20"))  # pause before the last resend wave
HOURS_30 = dt.timedelta(hours=30)


def blitz(now: dt.datetime) -> dict:
    """A daily must-drop jackpot whose deadline is about twelve hours away (a zone where it is
    noon now): only a bet stamped after its deadline could drop it during the test."""
    k = 12 - now.hour
    k = k - 24 if k > 12 else k
    zone = "Etc/GMT" + (f"{-k:+d}" if k else "")
    jackpot = instantiate(
        "daily_must_drop", name="Provider Blitz", jackpot_id=str(uuid.uuid4()), brands=sorted(BRANDS),
        currencies=["EUR"], games=[{"game_id": g, "coefficient": "1"} for g in GAMES],
        compliance_profile=PROFILES["CW"],
        overrides={"schedule": {"timezone": zone},
                   "levels": [{"name": "Daily", "display_order": 1, "contribution_split": "1",
                               "seed_from": "100", "seed_to": "100", "win_from": "900000", "win_to": "950000",
                               "win_max": "999999"}]})
    return {**jackpot.model_dump(mode="json"), "status": "ACTIVE"}


def bad_messages(codec, template: dict) -> list[tuple[bytes | None, bytes, str]]:
    """(key, value, words its dead letter's reason must contain) of each bad message."""
    key = template["player_id"].encode()
    good = codec.encode("BetPlaced", template)

    def bet(**changes) -> bytes:
        return codec.encode("BetPlaced", dict(template, event_id=str(uuid.uuid4()), **changes))

    return [
        (key, b"\xffnot avro at all", "magic"),
        (None, good[: len(good) // 2], ""),  # truncated
        (key, bet(player_id="p" * 6000), "byte"),  # oversize message
        (key, huge_amount(dict(template, event_id=str(uuid.uuid4())), 300_000), "byte"),
        (key, bet(player_id="pl\x00yer"), "control"),
        (key, bet(game_id="g" * 300), "game_id"),
        (key, bet(session_id="s\x1b[31m"), "control"),
        (key, bet(bet_amount=Decimal("-5.00")), "bet_amount"),
        (key, bet(currency="EURO"), "currency"),
        (b"x" * 10, codec.encode("PlayerSessionStart", {"event_id": str(uuid.uuid4()), "timestamp": template["timestamp"],
                                                         "player_id": "", "brand_id": "b", "session_id": "s"}),
         "unexpected event type"),
    ]


def sessions_for(stream: list[dict], rng: random.Random, codec) -> list[tuple[bytes, bytes]]:
    """Session starts and ends of some players, at provider times anywhere around their bets."""
    out = []
    players = sorted({b["player_id"] for b in stream})
    for player in rng.sample(players, min(300, len(players))):
        mine = [b for b in stream if b["player_id"] == player]
        for sid in {b["session_id"] for b in mine} | {f"ghost-{rng.randrange(10**6)}"}:
            for kind in ("PlayerSessionStart", "PlayerSessionEnd"):
                ts = mine[0]["timestamp"] + dt.timedelta(minutes=rng.randint(-2000, 2000))
                out.append((player.encode(), codec.encode(kind, {
                    "event_id": str(uuid.uuid4()), "timestamp": ts, "player_id": player,
                    "brand_id": mine[0]["brand_id"], "session_id": sid})))
    rng.shuffle(out)
    return out


async def test_a_careless_provider_loses_nothing_and_counts_nothing_twice(settings, spawn, tmp_path):
    rng = random.Random(59)
    codec = catalog()
    now = dt.datetime.now(dt.timezone.utc)
    docs = portfolio(5, seed=53) + [blitz(now)]
    blitz_id = docs[-1]["jackpot_id"]
    await publish_configs(settings, docs)
    stream = bets(N_BETS, seed=61)
    for k, b in enumerate(stream):  # lying clocks: a tenth ahead by 30 hours, a tenth behind
        b["timestamp"] += HOURS_30 if k % 10 == 0 else -HOURS_30 if k % 10 == 1 else dt.timedelta(0)
    oracle = Oracle(docs)
    for b in stream:
        oracle.apply(b)
    expected_pairs = {(jid, bid) for jid, ids in oracle.applied.items() for bid in ids}
    view, pipeline = SimpleNamespace(compiled=oracle.compiled, version=0), Pipeline()
    routed = [b for b in stream if pipeline.match(view, b)]

    port = free_port()
    worker = spawn("provider-chaos-worker", "worker", JACKPOT_DATA_DIR=str(tmp_path / "w"),
                   JACKPOT_WORKER_WEB_PORT=str(port), JACKPOT_STALL_AFTER_S="30")
    bets_topic, sessions_topic = settings.topic("bets"), settings.topic("player-sessions")
    encoded = {b["event_id"]: codec.encode("BetPlaced", b) for b in stream}
    sessions = sessions_for(stream, rng, codec)
    bad = bad_messages(codec, stream[7])
    expected_letters: dict[tuple[int, int], str] = {}  # bets (partition, offset) -> words of the reason
    resends = 0

    async with producer(settings) as prod:
        async def send(topic, key, value):
            return await (await prod.send(topic, key=key, value=value))

        # wave 1: the bets, with session events before, between and after them, and the bad messages
        cut = len(sessions) // 3
        for key, value in sessions[:cut]:
            await send(sessions_topic, key, value)
        bad_at = {rng.randrange(len(stream)): item for item in bad}
        for k, b in enumerate(stream):
            await prod.send(bets_topic, key=b["player_id"].encode(), value=encoded[b["event_id"]])
            if k in bad_at:
                key, value, words = bad_at[k]
                meta = await send(bets_topic, key, value)
                expected_letters[(meta.partition, meta.offset)] = words
            if k == len(stream) // 2:
                for key, value in sessions[cut:2 * cut]:
                    await prod.send(sessions_topic, key=key, value=value)
        for key, value in sessions[2 * cut:]:
            await prod.send(sessions_topic, key=key, value=value)
        await prod.flush()

        # wave 2, once wave 1 is in: byte-for-byte resends (some under another key, some thrice)
        # and conflicting duplicates (a known id, other content)
        await _applied(settings, oracle, docs)
        for b in rng.sample(stream, 300):
            for _ in range(3 if rng.random() < 0.2 else 1):
                key = b["player_id"].encode() if rng.random() < 0.7 else f"retry-{rng.randrange(999)}".encode()
                await prod.send(bets_topic, key=key, value=encoded[b["event_id"]])
                resends += 1
        for n, b in enumerate(rng.sample(routed, 40)):
            other = dict(b, bet_amount=b["bet_amount"] + 1) if n % 2 else dict(b, player_id=b["player_id"] + "-x")
            meta = await send(bets_topic, other["player_id"].encode(), codec.encode("BetPlaced", other))
            expected_letters[(meta.partition, meta.offset)] = "conflicting duplicate"
        await prod.flush()

        # wave 3, later: the same bets once more
        await asyncio.sleep(LATER_S)
        for b in rng.sample(stream, 100):
            await prod.send(bets_topic, key=b["player_id"].encode(), value=encoded[b["event_id"]])
            resends += 1
        await prod.flush()

    states = await _applied(settings, oracle, docs)
    jackpot_ids = [d["jackpot_id"] for d in docs]

    # every input partition's committed offset reaches its end (for the jackpots' input log, where
    # clock ticks keep coming, the end it had a look earlier)
    inputs = CatchUp(settings, settings.app_id, [settings.topic(n) for n in ("bets", "player-sessions",
                                                                             "jackpot-contributions")])

    async def not_at_end() -> list[str]:
        return [f"{tp.topic}/{tp.partition} {c}/{e}" for tp, (c, e) in (await inputs.look()).items() if c < e]

    stalled = await not_at_end()
    for _ in range(60):
        if not stalled:
            break
        await asyncio.sleep(2.0)
        stalled = await not_at_end()

    # the dead letters: one per bad message (by its bets coordinates), each with its reason
    async def letters():
        found = {}
        for dl in await read_events(settings, settings.topic("dead-letters")):
            if dl["source_topic"] == bets_topic:
                found.setdefault((dl["source_partition"], dl["source_offset"]), {})[dl["event_id"]] = dl
        return found if set(expected_letters) <= set(found) else None

    found = await wait_for(letters, timeout=120, interval=1.0, what="a dead letter for every bad message")
    extra_letters = set(found) - set(expected_letters)
    for where, words in expected_letters.items():
        assert len(found[where]) == 1, (where, list(found[where].values()))
        [dl] = found[where].values()
        assert dl["reason"] and words in dl["reason"], (words, dl["reason"])

    # applied exactly once, in the pools and in the ledger, and the two reconcile
    dup = lost = diff = 0
    for jid in jackpot_ids:
        d, lo, df = compare_pools(states[jid], oracle.states[jid])
        dup, lost, diff = dup + d, lost + lo, diff + df
    conn = await asyncpg.connect(settings.database_url)
    try:
        async def ledger_complete():
            n = await conn.fetchval("SELECT count(*) FROM contributions WHERE jackpot_id = ANY($1)", jackpot_ids)
            return n >= len(expected_pairs)

        await wait_for(ledger_complete, timeout=120, interval=1.0, what="the ledger")
        rows = await conn.fetch(
            "SELECT jackpot_id, bet_id::text AS bet_id FROM contributions WHERE jackpot_id = ANY($1)", jackpot_ids)
        res = await reconcile(conn, await table_states(settings, jackpot_ids))
    finally:
        await conn.close()
    got = {(r["jackpot_id"], r["bet_id"]) for r in rows}
    won = [e for e in await read_events(settings, settings.topic("jackpot-won"), key=blitz_id.encode())]
    log = worker.log_path.read_text(errors="replace")
    crashed = log.count("agent crashed") + (0 if worker.alive() else 1)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/ready") as resp:
            ready = resp.status == 200

    print(f"\nprovider-chaos: bets={len(stream)} resends={resends + 40} bad={len(expected_letters)} "
          f"dead_letters={sum(len(v) for k, v in found.items() if k in expected_letters)} "
          f"applied_once={len(got & expected_pairs) if (dup, lost) == (0, 0) else 0} "
          f"stalled_partitions={len(stalled)} crashed_agents={crashed} "
          f"reconcile={'ok' if res.ok else 'failed'}")
    assert (dup, lost, diff) == (0, 0, 0), (dup, lost, diff)
    assert got == expected_pairs and len(rows) == len(got), (len(got - expected_pairs), len(expected_pairs - got))
    assert not extra_letters, [list(found[w].values())[0]["reason"] for w in extra_letters]
    assert not won, f"the must-drop jackpot dropped on a provider's clock: {won[:1]}"
    assert stalled == [], stalled
    assert crashed == 0 and ready, worker.log_tail()
    assert res.ok, summary(res)


async def _applied(settings, oracle, docs):
    """Wait until the table holds every bet the oracle applied; return the states."""
    ids = [d["jackpot_id"] for d in docs]
    want = sum(p.meters.bets for st in oracle.states.values() for p in st.iter_pools())

    async def done():
        states = await table_states(settings, ids)
        return states if len(states) == len(ids) and bets_in(states) >= want else None

    return await wait_for(done, timeout=300, interval=1.0, what="every valid bet applied")
