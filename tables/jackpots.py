"""The jackpot table: one value per jackpot holding its pools and the proof of what it applied.

Faust's exactly-once mode alone has lost and duplicated table updates after SIGKILLs
and rebalances in the field, so the value itself carries, next to the amounts, the
highest source offsets it has applied.  One changelog record therefore holds both
the new amounts and what they include; a replay after a crash skips what is already
in.  Contributions are identified by the position of their bet in the bets topic
(partition, offset): the router forwards one bets partition in order, so for each
bets partition a jackpot sees increasing offsets and a single high-water mark per
partition suffices.  Inputs addressed to the jackpot directly (commands, wallet
results, clock ticks) use their own topic's offset.  The active-player window is not in the
value but in per-player entries beside it (tables/activity.py), read back as of the value's
``sequence``.

Cycle seeds are drawn from the OS CSPRNG one cycle ahead and stored here
(``seeds``) before anything derived from them is published.  Every output is then a
deterministic function of a persisted value and an input, so the agent can publish
outputs first and persist the state after: a replay reproduces the same outputs
with the same ids, and a seed never reaches a player before it is durable.

The secrets (per pool ``SECRET_POOL_FIELDS``, and ``seeds``) are stored sealed
(tables/sealing.py): whoever reads the changelog or the store sees the amounts and
marks, not when a jackpot will drop.  Values from before sealing hold them in clear
and still decode; their next checkpoint seals them.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson

from jackpot.settings import Settings, get_settings
from jackpot.tables.sealing import Sealer, SealingError, load_sealer
from jackpot.tables.store import ROCKSDB_OPTIONS, changelog_config

TABLE_NAME = "jackpot-state"
# A value written by an earlier version held the whole active-player window (now stored per
# player, tables/activity.py): ~5 MB of JSON for 20,000 players, over Kafka's 1 MB default.
# The changelog topic keeps accepting record batches up to this size, so such values recover.
MAX_VALUE_BYTES = 64 << 20
# What a pool's state holds that nobody outside the engine may learn before the drop: the
# secrets engine/pool.py names, the warn threshold (drawn as a fraction of the target, so it
# bounds the target) and the arming (the target is passed; the drop comes within eval_delay bets).
SECRET_POOL_FIELDS = ("win_target", "fire_threshold", "eval_delay", "retargets", "rng_seed",
                      "warn_threshold", "armed_at", "armed_bets")
SEALED = "sealed"  # the value's field holding the sealed secrets

_sealer: Sealer | None = None


def use_sealer(sealer: Sealer | None) -> None:
    """The sealer ``encode_record``/``decode_record`` use by default (a worker sets it at start)."""
    global _sealer
    _sealer = sealer


def default_sealer() -> Sealer:
    global _sealer
    if _sealer is None:
        _sealer = load_sealer(get_settings())
    return _sealer


@dataclass
class JackpotRecord:
    """What the table stores for one jackpot (JSON, ints stay ints: ``encode_record``)."""

    state: dict[str, Any]
    bet_marks: dict[str, int] = field(default_factory=dict)  # bets partition -> highest offset applied
    input_marks: dict[str, int] = field(default_factory=dict)  # input topic -> highest offset applied
    config_version: str = ""
    sequence: int = 0  # inputs applied so far; orders PoolUpdated per pool for consumers
    seeds: dict[str, str] = field(default_factory=dict)  # "level|currency" -> next cycle seed (hex)
    activity_stamp: int = 0  # order stamps handed out to window entries (tables/activity.py)
    # The engine's time after the last input applied (epoch ms): the latest of the inputs' own
    # times so far.  A batch resumes from it rather than from its first message's time, so a
    # replay from any saved value reaches the same time at the same sequence, whatever its
    # batches, and its outputs carry the same content under the same ids.
    clock: int = 0
    # in memory only:
    seeds_consumed: bool = field(default=False, compare=False)
    durable: int = field(default=0, compare=False)  # sequence of the last value written; durable
    # by the time the next checkpoint writes window entries (the agent waits for it)
    activity_gone: list = field(default_factory=list, compare=False)  # window entries to delete
    activity_ahead: dict = field(default_factory=dict, compare=False)  # window entries to rewrite

    def predraw_seeds(self, pools: list[tuple[str, str]]) -> None:
        for level_id, currency in pools:
            self.seeds.setdefault(f"{level_id}|{currency}", secrets.token_bytes(32).hex())

    def take_seed(self, level_id: str, currency: str, cycle: int) -> bytes:
        """Seed source for the engine: the persisted seed, replaced by a fresh draw.

        The fresh draw is only in memory until the next checkpoint persists it, and the
        agent checkpoints before it can be used (``seeds_consumed``).
        """
        key = f"{level_id}|{currency}"
        seed = self.seeds.get(key)
        if seed is None:
            raise LookupError(f"no pre-drawn seed for pool {key}; it must be persisted before use")
        self.seeds[key] = secrets.token_bytes(32).hex()
        self.seeds_consumed = True
        return bytes.fromhex(seed)

    def already_applied_bet(self, partition: int, offset: int) -> bool:
        mark = self.bet_marks.get(str(partition))
        return mark is not None and offset <= mark

    def mark_bet(self, partition: int, offset: int) -> None:
        self.bet_marks[str(partition)] = offset

    def already_applied_input(self, topic: str, offset: int) -> bool:
        mark = self.input_marks.get(topic)
        return mark is not None and offset <= mark

    def mark_input(self, topic: str, offset: int) -> None:
        self.input_marks[topic] = offset

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "bet_marks": self.bet_marks, "input_marks": self.input_marks,
                "config_version": self.config_version, "sequence": self.sequence, "seeds": self.seeds,
                "activity_stamp": self.activity_stamp, "clock": self.clock}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "JackpotRecord":
        sequence = int(doc.get("sequence", 0))
        return cls(doc["state"], dict(doc.get("bet_marks", {})), dict(doc.get("input_marks", {})),
                   doc.get("config_version", ""), sequence, dict(doc.get("seeds", {})),
                   int(doc.get("activity_stamp", 0)), int(doc.get("clock", 0)), durable=sequence)


def encode_record(record: JackpotRecord, sealer: Sealer | None = None) -> bytes:
    """The table value as JSON bytes, encoded once per checkpoint and shared by the local store
    and the changelog (a state holds thousands of player records: encoding it is the costly
    part of a checkpoint). orjson is several times faster than the standard library; it refuses
    integers beyond 64 bits (9.2 trillion units in micros), for which the standard one is used.
    The secrets leave the readable part and go, as one blob, into ``sealed``; the record itself
    is not changed."""
    doc = record.to_dict()
    state = dict(doc["state"])
    hidden: dict[str, Any] = {"pools": {}, "seeds": doc.pop("seeds")}
    pools = {}
    for currency, by_level in (state.get("pools") or {}).items():
        pools[currency], secret = {}, hidden["pools"].setdefault(currency, {})
        for level_id, pool in by_level.items():
            pools[currency][level_id] = clear = pool.copy()  # a copy: the record keeps its secrets
            secret[level_id] = {k: clear.pop(k) for k in SECRET_POOL_FIELDS if k in clear}
    state["pools"] = pools
    doc["state"] = state
    doc[SEALED] = (sealer or default_sealer()).seal(dump_json(hidden), _associated(state))
    return dump_json(doc)


def _associated(state: dict) -> bytes:
    """What a blob is bound to: its jackpot (a blob copied into another jackpot's value fails)."""
    return b"jackpot-state\x00" + str(state.get("jackpot_id", "")).encode()


def dump_json(doc: Any) -> bytes:
    """orjson, or the standard library for integers beyond 64 bits."""
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return json.dumps(doc, separators=(",", ":")).encode()


def load_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # integers beyond 64 bits
        return json.loads(raw)


def decode_record(raw: bytes | dict, sealer: Sealer | None = None, *, jackpot_id: str | None = None) -> JackpotRecord:
    """A table value as stored by any version: JSON bytes (a dict from an older in-memory copy),
    secrets sealed or (written before sealing) in clear.  ``jackpot_id``: the table key, which
    the value must belong to.  A blob that does not open raises ``SealingError``."""
    doc = raw if isinstance(raw, dict) else load_json(raw)
    if jackpot_id is not None and doc["state"].get("jackpot_id", jackpot_id) != jackpot_id:
        raise SealingError(f"the value under {jackpot_id!r} belongs to {doc['state'].get('jackpot_id')!r}")
    if SEALED in doc:
        state = doc["state"]
        hidden = load_json((sealer or default_sealer()).open(doc[SEALED], _associated(state)))
        pools = {c: {lid: dict(p) for lid, p in by.items()} for c, by in (state.get("pools") or {}).items()}
        for currency, by_level in hidden["pools"].items():
            for level_id, secret in by_level.items():
                pools.setdefault(currency, {}).setdefault(level_id, {}).update(secret)
        doc = {**doc, "state": {**state, "pools": pools}, "seeds": hidden["seeds"]}
    return JackpotRecord.from_dict(doc)


def jackpot_table(app: faust.App, settings: Settings) -> faust.Table:
    return app.Table(
        TABLE_NAME,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # bytes -> "raw" on the changelog
        value_type=bytes,  # JSON documents, encoded once by ``encode_record``
        extra_topic_configs=changelog_config(**{"max.message.bytes": str(MAX_VALUE_BYTES)}),
        options=dict(ROCKSDB_OPTIONS),
        help="Pools, cycle state and applied-offset marks per jackpot (single writer: the jackpot agent).",
    )
