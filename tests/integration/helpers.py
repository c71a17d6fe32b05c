"""Shared helpers for integration tests: configs, topic readers, HTTP waits."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp
from aiokafka.errors import KafkaError

from jackpot.engine.pool import JackpotState
from jackpot.settings import Settings
from jackpot.streams.batches import CONTRIBUTIONS, decode_message
from jackpot.streams.codec import catalog
from jackpot.streams.kafka import committed_and_end, group_members, read_to_end


def one_level_config(jackpot_id: str | None = None, **over) -> dict:
    """A one-jackpot, one-level config with the specification's worked-example numbers."""
    doc = {
        "jackpot_id": jackpot_id or str(uuid.uuid4()),
        "name": "Skeleton Fortune",
        "internal_name": "skeleton-fortune",
        "type": "PERSISTENT",
        "status": "ACTIVE",
        "brands": ["brand-royal"],
        "currencies": ["EUR"],
        "games": [{"game_id": "starburst", "coefficient": "1.2"}],
        "contribution_rate": "0.015",
        "house_cut": "0.10",
        "compliance_profile": {"jurisdiction_code": "MT", "allowed_distribution_modes": [1]},
        "levels": [
            {
                "level_id": str(uuid.uuid4()),
                "name": "Grand",
                "display_order": 1,
                "contribution_split": "1",
                "seed_from": "1000",
                "seed_to": "1000",
                "win_from": "5000",
                "win_to": "6000",
                "win_max": "10000",
            }
        ],
    }
    doc.update(over)
    return doc


async def read_topic(settings: Settings, topic: str, key: bytes | None = None,
                     timeout: float = 5.0) -> list:
    """Every record of ``topic`` (optionally only ``key``), from the beginning to the end now."""
    return await read_to_end(settings, topic, key, timeout)


async def received_times(settings: Settings, topic: str) -> dict[str, int]:
    """Event id -> the broker's append time (epoch ms) of every record of a provider topic: the
    engine's time for it (docs/providers.md), which an oracle must use instead of the record's own."""
    codec = catalog()
    out = {}
    for m in await read_topic(settings, topic):
        assert m.timestamp_type == 1, "provider topics are stamped by the broker (LogAppendTime)"
        out[str(codec.decode(m.value)[1]["event_id"])] = m.timestamp
    return out


async def read_events(settings: Settings, topic: str, key: bytes | None = None) -> list[dict]:
    codec = catalog()
    return [decode_message(codec, m.value)[1] for m in await read_topic(settings, topic, key)]


async def read_wallet_results(settings: Settings, key: bytes | None = None) -> list[dict]:
    """The wallet credit results the payout agent put in the jackpots' input log."""
    codec = catalog()
    return [rec for m in await read_topic(settings, settings.topic("jackpot-contributions"), key)
            for name, rec in [decode_message(codec, m.value)] if name == "WalletCreditResult"]


async def read_requests(settings: Settings, key: bytes | None = None) -> list[dict]:
    """The contribution requests the router sent (to jackpot ``key``), out of their batches."""
    codec = catalog()
    msgs = await read_topic(settings, settings.topic("jackpot-contributions"), key)
    return [r for m in msgs for r in CONTRIBUTIONS.items_in(codec, m.value)]


async def table_value(settings: Settings, table: str, key: bytes, timeout: float = 60.0) -> dict | None:
    """The latest value of a Faust table key, read from its changelog topic (all of it: a read
    cut short would return an older value as if it were the latest). A jackpot-table value comes
    with its sealed secrets opened (with the workers' key: the same settings)."""
    from jackpot.tables import jackpots
    from jackpot.tables.sealing import load_sealer

    msgs = await read_to_end(settings, f"{settings.app_id}-{table}-changelog", key,
                             timeout, complete=True)
    if not msgs:
        return None
    if table == jackpots.TABLE_NAME:
        return jackpots.decode_record(msgs[-1].value, load_sealer(settings), jackpot_id=key.decode()).to_dict()
    return json.loads(msgs[-1].value)


async def window(settings: Settings, jackpot_id: str, record: dict, timeout: float = 60.0) -> dict:
    """The active-player window a jackpot value includes (``record``: its table value), read from
    the per-player entries' changelog (tables/activity.py)."""
    from jackpot.tables import activity

    key = jackpot_id.encode()
    msgs = await read_to_end(settings,
                             f"{settings.app_id}-{activity.TABLE_NAME}-changelog", None, timeout, complete=True)
    latest = {m.key: m.value for m in msgs if m.key.startswith(activity.prefix(key))}
    items = sorted((k, v) for k, v in latest.items() if v is not None)
    return activity.assemble(items, key, int(record["sequence"])).activity


async def http_ready(url: str, timeout: float = 90.0, procs=()) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            for p in procs:
                assert p.alive(), f"{p.name} exited early:\n{p.log_tail()}"
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"{url} not ready after {timeout}s")


async def send_command(settings: Settings, jackpot_id: str, **fields) -> dict:
    """Produce one OperatorCommand on the jackpot's partition; return the record sent."""
    import datetime as dt

    from jackpot.streams.kafka import producer

    record = {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
              "jackpot_id": jackpot_id, "actor": "operator-1", "reason": "test", **fields}
    async with producer(settings) as prod:
        await prod.send_and_wait(settings.topic("operator-commands"), key=jackpot_id.encode(),
                                 value=catalog().encode("OperatorCommand", record))
    return record


async def read_engine_events(settings: Settings, key: bytes, topic: str = "jackpot-events",
                             kinds: tuple[str, ...] | None = None) -> list[dict]:
    """The full engine events (``JackpotEvent`` envelopes) of one jackpot on ``topic``
    (``jackpot-events`` or ``audit-events``): ``{"kind", "event_id", "payload"}`` each, in order."""
    out = []
    for ev in await read_events(settings, settings.topic(topic), key):
        if kinds is None or ev["kind"] in kinds:
            out.append({"kind": ev["kind"], "event_id": str(ev["event_id"]),
                        "payload": json.loads(ev["payload_json"])})
    return out


async def latest_pools(settings: Settings, key: bytes) -> dict[tuple[str, str], dict]:
    """The latest PoolUpdated of each (level_id, currency) pool of one jackpot."""
    latest: dict[tuple[str, str], dict] = {}
    for u in await read_events(settings, settings.topic("pool-updated"), key):
        k = (u["level_id"], u["currency"])
        if k not in latest or u["sequence"] >= latest[k]["sequence"]:
            latest[k] = u
    return latest


def bets_applied(state: JackpotState) -> int:
    """Bets counted over all of a state's pools (one per level a bet fed)."""
    return sum(p.meters.bets for p in state.iter_pools())


async def explain_unapplied(settings: Settings, table: str, jackpot_ids: list[str], expected: dict[str, int]) -> str:
    """Why the table does not hold every bet yet, for a failing test's message: per jackpot the
    bets applied against those expected and the highest bets offset applied per bets partition;
    per input topic the group's committed offsets against the end offsets; and per jackpot the
    highest bets offset routed to it per bets partition (router side) with any reordering."""
    lines = []
    for jid in jackpot_ids:
        rec = await table_value(settings, table, jid.encode())
        if rec is None:
            lines.append(f"{jid}: no table value")
            continue
        lines.append(f"{jid}: applied {bets_applied(JackpotState.from_dict(rec['state']))} of {expected.get(jid)}, "
                     f"sequence {rec['sequence']}, bet marks {dict(sorted(rec.get('bet_marks', {}).items()))}")
    for name in ("bets", "jackpot-contributions", "operator-commands"):
        offsets = await committed_and_end(settings, settings.app_id, [settings.topic(name)])
        lines.append(f"{name} committed/end: " + " ".join(
            f"{tp.partition}:{committed}/{end}" for tp, (committed, end) in offsets.items()))
    routed: dict[str, dict[int, list[int]]] = {}
    codec = catalog()
    for m in await read_to_end(settings, settings.topic("jackpot-contributions")):
        for rec in CONTRIBUTIONS.items_in(codec, m.value):
            by_partition = routed.setdefault(rec["jackpot_id"], {})
            by_partition.setdefault(rec["source_partition"], []).append(rec["source_offset"])
    for jid in jackpot_ids:
        parts = routed.get(jid, {})
        lines.append(f"{jid} routed: " + " ".join(
            f"{p}:n={len(o)},max={max(o)},reordered={sum(1 for a, b in zip(o, o[1:]) if b < a)}"
            for p, o in sorted(parts.items())))
    return "\n".join(lines)


def expected_bets(oracle) -> dict[str, int]:
    """Bets the oracle applied per jackpot."""
    return {jid: bets_applied(st) for jid, st in oracle.states.items()}


async def explained(waiting, settings: Settings, table: str, oracle):
    """Await ``waiting`` (a ``wait_for``); if it times out, say why in the assertion."""
    try:
        return await waiting
    except AssertionError as exc:
        want = expected_bets(oracle)
        raise AssertionError(f"{exc}\n{await explain_unapplied(settings, table, list(want), want)}") from None


async def group_formed(settings: Settings, members: int, timeout: float = 120.0) -> None:
    """Wait until the workers' consumer group is stable with ``members`` members, so a test that
    is not about rebalancing does not produce its input into the start-up rebalances."""
    from .conftest import wait_for

    async def formed():
        try:
            state, n = await group_members(settings, settings.app_id)
        except KafkaError:  # no coordinator for the group yet: the workers are still joining
            return False
        return state == "Stable" and n == members

    await wait_for(formed, timeout=timeout, interval=0.5, what=f"a stable group of {members} workers")


async def reference_wallet(spawn, name: str, fail_next: int = 0) -> str:
    """Start the reference wallet as process ``name``, ready, failing its next ``fail_next``
    credits with 503; its base URL."""
    import aiohttp

    from .conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    wallet = spawn(name, "wallet", JACKPOT_WALLET_PORT=url.rsplit(":", 1)[1])
    await http_ready(f"{url}/health", procs=[wallet])
    if fail_next:
        async with aiohttp.ClientSession() as http:
            await http.post(f"{url}/faults", json={"fail_next": fail_next, "status": 503})
    return url
