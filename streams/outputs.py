"""Where each engine event goes, and its wire form.

The specification's outbound events go to their own topics in their own Avro
schema (the fields the schema names, money converted from integer micros to Avro
decimals at this edge); wallet credit commands go to the payout agent; audit-only
records to the audit topic; every other engine event travels whole, as canonical
JSON inside the generic ``JackpotEvent`` envelope.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jackpot.engine.events import AUDIT_ONLY, EngineEvent
from jackpot.engine.money import from_micros
from jackpot.streams import topics as T
from jackpot.streams.codec import catalog

# engine event type -> (topic, Avro schema) for the events with a schema of their own
ROUTES: dict[str, tuple[T.TopicSpec, str]] = {
    "JackpotWon": (T.JACKPOT_WON, "JackpotWon"),
    "JackpotReseeded": (T.JACKPOT_RESEEDED, "JackpotReseeded"),
    "WarnThresholdReached": (T.WARN_THRESHOLD, "WarnThresholdReached"),
    "JackpotStateChanged": (T.STATE_CHANGED, "JackpotStateChanged"),
    "PoolApproachingMax": (T.APPROACHING_MAX, "PoolApproachingMax"),
    "WalletCreditCommand": (T.WALLET_COMMANDS, "WalletCreditCommand"),
    # a balance moved to (or returned to) another jackpot: a command on that jackpot's partition
    "BalanceTransferCommand": (T.COMMANDS, "OperatorCommand"),
}
# routes keyed by the event's own jackpot (another jackpot's partition), not the emitting one
OTHER_JACKPOT = frozenset({"BalanceTransferCommand"})


@dataclass(frozen=True, slots=True)
class Wire:
    topic: T.TopicSpec
    value: bytes
    key: bytes | None = None  # None: the emitting jackpot's key


def _convert(value: Any, schema: Any) -> Any:
    """Engine JSON value -> the Python value fastavro expects for ``schema``."""
    if isinstance(schema, list):  # union: null or one type
        if value is None:
            return None
        branch = next(s for s in schema if s != "null")
        return _convert(value, branch)
    if isinstance(schema, dict):
        logical = schema.get("logicalType")
        if logical == "decimal":
            if isinstance(value, int):  # money: integer micros
                return from_micros(value)
            if isinstance(value, str):  # exact non-money decimals (percentages) travel as text
                return Decimal(value)
            return value
        if logical == "timestamp-millis":
            return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.timezone.utc)
        if schema.get("type") == "array":
            return [_convert(v, schema["items"]) for v in value]
        if schema.get("type") == "record":
            return {f["name"]: _convert(value.get(f["name"]), f["type"]) for f in schema["fields"]
                    if f["name"] in value or "default" not in f}
        if schema.get("type") == "enum":
            return str(value)
    if schema == "string" and value is not None and not isinstance(value, str):
        return str(value)
    return value


def _percent(fraction: str) -> Decimal:
    """A configured rate (fraction of 1, as the engine keeps it) as a percentage, 4 places."""
    return (Decimal(fraction) * 100).quantize(Decimal("0.0001"))


def _warn_range(payload: dict) -> dict:
    """WarnThresholdReached: the engine's configured range ``warn_percentage`` [from, to]
    (fractions) is the schema's ``warn_percentage_from`` / ``warn_percentage_to`` (percent)."""
    lo, hi = payload["warn_percentage"]
    return {"warn_percentage_from": _percent(lo), "warn_percentage_to": _percent(hi)}


# schema name -> the wire fields derived from an engine payload whose shape differs
DERIVED = {"WarnThresholdReached": _warn_range}


def to_record(event: EngineEvent, schema_name: str) -> dict:
    """An engine event in the shape of one of our Avro schemas (fields by name)."""
    doc = catalog().by_name[schema_name].parsed
    source = dict(event.payload)
    derive = DERIVED.get(schema_name)
    if derive is not None:
        source.update(derive(event.payload))
    source.update(event_id=event.event_id, timestamp=event.timestamp)
    if event.event_type not in OTHER_JACKPOT:  # a command record carries its own schema's version (default)
        source["event_version"] = event.event_version
    record = {}
    for f in doc["fields"]:
        name = f["name"]
        if name == "event_type":
            continue
        if name in source:
            record[name] = _convert(source[name], f["type"])
        elif "default" not in f:
            raise KeyError(f"{schema_name}.{name}: missing from engine event {event.event_type}")
    return record


def encode(event: EngineEvent) -> list[Wire]:
    """The event's wire forms: its spec topic (if it has one) and always the full engine event,
    on jackpot-events (or audit-events), which the PostgreSQL event sink reads."""
    route = ROUTES.get(event.event_type)
    key = event.jackpot_id.encode() if event.event_type in OTHER_JACKPOT else None
    wires = [] if route is None else [Wire(route[0], catalog().encode(route[1], to_record(event, route[1])), key)]
    if event.event_type != "WalletCreditCommand":
        wires.append(envelope(event))
    return wires


def envelope(event: EngineEvent) -> Wire:
    topic = T.AUDIT if event.event_type in AUDIT_ONLY else T.ENGINE_EVENTS
    return Wire(topic, catalog().encode("JackpotEvent", {
        "event_id": event.event_id,
        "timestamp": dt.datetime.fromtimestamp(event.timestamp / 1000, tz=dt.timezone.utc),
        "event_version": event.event_version,
        "jackpot_id": event.jackpot_id,
        "kind": event.event_type,
        "payload_json": json.dumps(event.payload, sort_keys=True, default=str),
    }))
