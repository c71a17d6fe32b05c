"""The registry path against a real Confluent-compatible registry (Apicurio Registry, started locally).

1. Every schema registers under its record name and round-trips in the Confluent wire format.
2. The registry enforces FULL_TRANSITIVE, agreeing with the local check, and refuses a change
   that is compatible with the latest version only.
3. A worker on the registry reads bets in both framings and puts every bad message in the
   dead-letter topic with a reason that names the field.
"""

from __future__ import annotations

import copy
import datetime as dt
import struct
import uuid
from decimal import Decimal

import pytest

from jackpot.ops.registry import SchemaRegistryService
from jackpot.streams.codec import HEADER_LEN, Catalog, RegistryCatalog, load_schemas
from jackpot.streams.kafka import producer
from jackpot.streams.publish import publish_configs
from jackpot.streams.registry import RegistryRefused, SchemaRegistry, full_transitive_problems
from jackpot.streams.topics import BETS, DEAD_LETTERS, POOL_UPDATED, ensure_topics
from tests.unit.avro.samples import sample

from .conftest import free_port, wait_for
from .helpers import one_level_config, read_topic

pytestmark = pytest.mark.integration

RAW, RELEASED = load_schemas()
BET_DOC = RAW["BetPlaced"]


@pytest.fixture(scope="module")
def registry_url(stack, settings):
    service = SchemaRegistryService(settings)
    started = service.up()
    yield service.url
    if started:
        service.down()


@pytest.fixture(scope="module")
def run_id(settings) -> str:
    return settings.topic_prefix.strip(".").replace("-", "_")


@pytest.fixture()
async def own(settings, tmp_path):
    """A worker of this test's own (app id, topics, data): other tests' workers and bets stay out."""
    run = uuid.uuid4().hex[:6]
    s = settings.model_copy(
        update={
            "app_id": f"{settings.app_id}-registry-{run}",
            "topic_prefix": f"{settings.topic_prefix}registry-{run}.",
            "data_dir": tmp_path / "worker-data",
            "worker_web_port": free_port(),
        }
    )
    await ensure_topics(s)
    return s


def bet(**over) -> dict:
    rec = {
        "event_id": str(uuid.uuid4()),
        "timestamp": dt.datetime.now(dt.timezone.utc),
        "player_id": "player-registry",
        "game_id": "starburst",
        "brand_id": "brand-royal",
        "currency": "EUR",
        "bet_amount": Decimal("2.00"),
        "bet_type": "real",
        "session_id": "s-1",
    }
    rec.update(over)
    return rec


def sample_records() -> dict[str, dict]:
    """A value in every field of every schema (the unit tests' generator)."""
    return {name: sample(doc, name) for name, doc in RAW.items()}


def test_every_schema_registers_and_round_trips(registry_url):
    codec = RegistryCatalog.connect(registry_url)
    assert set(codec.ids) == set(RAW)
    again = RegistryCatalog.connect(registry_url)
    assert again.ids == codec.ids, "registering twice finds the same ids"
    reg = SchemaRegistry(registry_url)
    for name, record in sample_records().items():
        data = codec.encode(name, record)
        assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == codec.ids[name]
        # a fresh reader resolves the writer id through the registry
        fresh = RegistryCatalog(reg, {name: RAW[name]})
        got, back = fresh.decode(data)
        assert got == name and back["event_id"] is not None
        assert reg.get_compatibility(f"jackpot.events.{name}") == "FULL_TRANSITIVE"


def test_registry_enforces_full_transitive_like_the_local_check(registry_url, run_id):
    reg = SchemaRegistry(registry_url)
    subject = f"jackpot.test.{run_id}.Probe"
    v1 = {
        "type": "record",
        "name": "Probe",
        "namespace": "jackpot.events",
        "fields": [
            {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "note", "type": "string", "default": ""},
        ],
    }
    add_optional = copy.deepcopy(v1)
    add_optional["fields"].append({"name": "jurisdiction", "type": ["null", "string"], "default": None})
    change_type = copy.deepcopy(add_optional)
    change_type["fields"][0]["type"] = "long"
    reg.set_compatibility(subject, "FULL_TRANSITIVE")
    reg.register(v1, subject)

    assert reg.is_compatible(add_optional, subject) is True
    assert full_transitive_problems(add_optional, [(1, v1)]) == []
    reg.register(add_optional, subject)

    assert reg.is_compatible(change_type, subject) is False
    assert full_transitive_problems(change_type, [(1, v1), (2, add_optional)]) != []
    with pytest.raises(RegistryRefused, match="409"):
        reg.register(change_type, subject)

    # drop "note" (it has a default: FULL compatible), then bring it back as a long:
    # compatible with the latest version, not with v1, so FULL_TRANSITIVE refuses it.
    dropped = copy.deepcopy(add_optional)
    dropped["fields"] = [f for f in dropped["fields"] if f["name"] != "note"]
    reg.register(dropped, subject)
    back_as_long = copy.deepcopy(dropped)
    back_as_long["fields"].append({"name": "note", "type": "long", "default": 0})
    assert full_transitive_problems(back_as_long, [(3, dropped)]) == []
    assert full_transitive_problems(back_as_long, [(1, v1), (2, add_optional), (3, dropped)]) != []
    with pytest.raises(RegistryRefused, match="409"):
        reg.register(back_as_long, subject)
    assert reg.versions(subject) == [1, 2, 3]


def with_field(name: str, new_type) -> dict:
    doc = copy.deepcopy(BET_DOC)
    next(f for f in doc["fields"] if f["name"] == name)["type"] = new_type
    return doc


def without_field(name: str) -> dict:
    doc = copy.deepcopy(BET_DOC)
    doc["fields"] = [f for f in doc["fields"] if f["name"] != name]
    return doc


def body(doc: dict, record: dict) -> bytes:
    return Catalog({"BetPlaced": doc}).encode("BetPlaced", record)[HEADER_LEN:]


async def test_worker_on_the_registry_dead_letters_bad_input_naming_the_field(own, spawn, registry_url, run_id):
    config = one_level_config()
    jackpot_id = config["jackpot_id"]
    await publish_configs(own, [config])
    codec = RegistryCatalog.connect(registry_url)
    reg = SchemaRegistry(registry_url)

    # Writer schemas of a careless provider, registered under its own subjects.
    def provider(doc: dict, tag: str) -> int:
        return reg.register(doc, f"provider.{run_id}.{tag}-value")

    wrong_type = provider(with_field("bet_amount", "string"), "wrong-type")
    missing = provider(without_field("player_id"), "missing")
    finer = provider(
        with_field("bet_amount", {"type": "bytes", "logicalType": "decimal", "precision": 22, "scale": 8}), "finer"
    )
    good = codec.encode("BetPlaced", bet(bet_amount=Decimal("2.00")))
    single_object = Catalog(*load_schemas()).encode("BetPlaced", bet(bet_amount=Decimal("3.00")))
    frame = lambda schema_id, payload: struct.pack(">bI", 0, schema_id) + payload  # noqa: E731
    bad = {
        "truncated": (good[:-2], "BetPlaced.session_id: message ends at byte"),
        "unknown id": (frame(987654, good[5:]), "unknown schema id 987654"),
        "unknown fingerprint": (b"\xc3\x01" + b"\x11" * 8 + good[5:], "unknown schema fingerprint 1111111111111111"),
        "wrong type": (
            frame(wrong_type, body(with_field("bet_amount", "string"), bet(bet_amount="2.00"))),
            "BetPlaced.bet_amount: writer type plain string would be read as decimal(20,6)",
        ),
        "missing field": (
            frame(missing, body(without_field("player_id"), {k: v for k, v in bet().items() if k != "player_id"})),
            "BetPlaced.player_id: missing from the writer schema",
        ),
        "more decimals": (
            frame(
                finer,
                body(
                    with_field("bet_amount", {"type": "bytes", "logicalType": "decimal", "precision": 22, "scale": 8}),
                    bet(bet_amount=Decimal("2.12345678")),
                ),
            ),
            "BetPlaced.bet_amount: writer type decimal(22,8) would be read as decimal(20,6)",
        ),
        "wrong event": (
            codec.encode("PoolUpdated", sample_records()["PoolUpdated"]),
            "unexpected event type PoolUpdated",
        ),
        "garbage": (b'{"bet": 1}', "not Avro: bad magic bytes"),
    }
    worker = spawn("worker-registry", "worker", **{**own.to_env(), "SCHEMA_REGISTRY_URL": registry_url})
    async with producer(own) as prod:
        for tag, (value, _) in bad.items():
            await prod.send_and_wait(own.topic(BETS.name), key=tag.encode(), value=value)
        await prod.send_and_wait(own.topic(BETS.name), key=b"good", value=good)
        await prod.send_and_wait(own.topic(BETS.name), key=b"good-single-object", value=single_object)

    async def dead_letters():
        assert worker.alive(), worker.log_tail()
        msgs = await read_topic(own, own.topic(DEAD_LETTERS.name))
        return msgs if len(msgs) >= len(bad) else None

    letters = await wait_for(dead_letters, timeout=120, what="a dead letter for every bad message")
    by_key = {}
    for m in letters:
        assert m.value[0] == 0, "the worker writes the Confluent wire format"
        name, rec = codec.decode(m.value)
        assert name == "DeadLetter" and rec["stage"] == "router"
        by_key[rec["key"].decode()] = rec
    assert set(by_key) == set(bad)
    for tag, (value, reason) in bad.items():
        rec = by_key[tag]
        assert reason in rec["reason"], f"{tag}: {rec['reason']}"
        assert rec["value"] == value and rec["source_topic"] == own.topic(BETS.name)
        assert rec["error_type"] == "DecodeError"

    # the good bets (one per framing) went through: 2.00 + 3.00 at 1.5% x 1.2 x 0.9 on a 1000 seed
    async def pool():
        msgs = await read_topic(own, own.topic(POOL_UPDATED.name), jackpot_id.encode())
        events = [codec.decode(m.value)[1] for m in msgs]
        return events if events and events[-1]["visible_amount"] == Decimal("1000.081000") else None

    events = await wait_for(pool, timeout=60, what="PoolUpdated after both good bets")
    assert events[-1]["currency"] == "EUR"
    assert worker.alive()
