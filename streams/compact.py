"""Compact batches: how our own per-bet records travel between our own processes.

The router's contribution requests and the jackpot agent's ledger entries are written and read
only by this system, a few per bet, and encoding each one as Avro cost more CPU than applying
the bet (fastavro spends most of it on the decimals and logical types: a ledger entry carries
over twenty).  So these batches are a header and rows of plain values: money as integer units
of the schema's scale (micros), times as epoch milliseconds, ids as strings, one JSON array
per item, encoded by orjson.  Public and provider topics stay Avro.

The item's Avro schema (``avro/``) still defines the record: its fields name the columns and
their kinds, and a reader maps the writer's columns by name, filling fields the writer did not
have from the reader schema's defaults and ignoring columns it does not know, as Avro schema
resolution would.  Decoding gives the same values an Avro decode gives (``Decimal`` amounts,
UTC ``datetime`` times), so consumers do not care which framing a message used.

Wire format: ``MAGIC`` then a JSON object ``{"b": batch schema, "id": batch event id,
"ts": epoch ms, "j": jackpot id, "c": columns, "r": rows}``; a column is a field name, or
``[name, [nested columns]]`` for an array of records (a ledger entry's levels).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Callable, Iterator

import orjson

from jackpot.streams.codec import DecodeError, EncodeError

MAGIC = b"\xffJPB"  # no Avro framing starts so (single-object: c3 01, Confluent: 00)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_NO_DEFAULT = object()

Convert = Callable[[Any], Any]


def is_compact(value: bytes | None) -> bool:
    return bool(value) and value[:4] == MAGIC


# ---------------------------------------------------------------- conversions
def epoch_ms(value: Any) -> int:
    if isinstance(value, dt.datetime):
        return (value - EPOCH) // dt.timedelta(milliseconds=1)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise EncodeError(f"expected a datetime or epoch ms, got {type(value).__name__}")


def _ms_in(value: Any) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=_int(value))


def _units_out(scale: int, precision: int) -> Convert:
    limit = 10 ** precision

    def out(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            units = value  # already in units of the scale (the engine's micros)
        elif isinstance(value, Decimal):
            scaled = value.scaleb(scale)
            if not scaled.is_finite() or scaled != scaled.to_integral_value():
                raise EncodeError(f"{value} is not a whole number of units of 1e-{scale}")
            units = int(scaled)
        else:
            raise EncodeError(f"expected a Decimal or integer units, got {type(value).__name__}")
        if not -limit < units < limit:
            raise EncodeError(f"{value} needs more than {precision} digits")
        return units
    return out


def _units_in(scale: int) -> Convert:
    def read(value: Any) -> Decimal:
        return Decimal(_int(value)).scaleb(-scale)
    return read


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise DecodeError(f"expected an integer, got {type(value).__name__}")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise DecodeError(f"expected a string, got {type(value).__name__}")


def _same(value: Any) -> Any:
    return value


def _nullable(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


# ------------------------------------------------------------------- columns
class Columns:
    """An item schema's fields as columns: a converter to the row value and one back, each."""

    def __init__(self, fields: list[dict]) -> None:
        self.names: list[str] = []
        self.writers: list[Convert] = []
        self.readers: dict[str, Convert] = {}
        self.nested: dict[str, Columns] = {}
        self.defaults: dict[str, Any] = {}
        for f in fields:
            name = f["name"]
            write, read = self._kind(name, f["type"])
            self.names.append(name)
            self.writers.append(write)
            self.readers[name] = read
            self.defaults[name] = f.get("default", _NO_DEFAULT)

    def _kind(self, name: str, t: Any) -> tuple[Convert, Convert]:
        if isinstance(t, list):  # a union: only ["null", X] is used in our schemas
            others = [x for x in t if x != "null"]
            if len(others) != 1:
                raise ValueError(f"compact batches do not support the union {t} of {name!r}")
            write, read = self._kind(name, others[0])
            return _nullable(write), _nullable(read)
        if isinstance(t, dict):
            logical = t.get("logicalType")
            if logical == "decimal":
                scale, precision = int(t.get("scale", 0)), int(t["precision"])
                return _units_out(scale, precision), _units_in(scale)
            if logical == "timestamp-millis":
                return epoch_ms, _ms_in
            if logical == "timestamp-micros":
                raise ValueError(f"{name!r}: timestamp-micros is not used by compact batches")
            if logical == "uuid":
                return str, _str
            if t.get("type") == "array" and isinstance(t.get("items"), dict) and t["items"].get("type") == "record":
                inner = Columns(t["items"]["fields"])
                self.nested[name] = inner
                # read back by ``reader``, which follows the nested columns the writer declared
                return (lambda items: [inner.row(i) for i in items]), _same
            if t.get("type") == "array":
                return list, list
            if t.get("type") in ("record", "map", "enum", "fixed"):
                return _same, _same
            return self._kind(name, t["type"])
        return _same, _same

    def header(self) -> list:
        return [[n, self.nested[n].header()] if n in self.nested else n for n in self.names]

    def row(self, record: dict) -> list:
        out = []
        for name, write, default in zip(self.names, self.writers, self.defaults.values()):
            value = record.get(name, default)
            if value is _NO_DEFAULT:
                raise EncodeError(f"missing field {name!r}")
            out.append(write(value))
        return out

    def reader(self, header: list) -> Callable[[list], dict]:
        """How to read rows written under ``header`` (the writer's columns) into items."""
        plan: list[tuple[str, Convert | None]] = []
        for col in header:
            if isinstance(col, list):  # [name, nested header]
                name, inner_header = col
                inner = self.nested.get(name)
                if inner is None:
                    plan.append((name, None))
                    continue
                read_inner = inner.reader(inner_header)
                plan.append((name, lambda rows, r=read_inner: [r(x) for x in rows]))
            else:
                plan.append((col, self.readers.get(col) if col not in self.nested else None))
        written = {name for name, _ in plan}
        missing = {n: d for n, d in self.defaults.items() if n not in written}
        absent = [n for n, d in missing.items() if d is _NO_DEFAULT]

        def read(row: list) -> dict:
            if absent:
                raise DecodeError(f"the writer has no column for {', '.join(absent)} and the schema no default")
            if not isinstance(row, list) or len(row) != len(plan):
                raise DecodeError(f"a row of {len(row) if isinstance(row, list) else 'no'} values "
                                  f"for {len(plan)} columns")
            item = dict(missing)
            for (name, convert), value in zip(plan, row):
                if convert is not None:
                    item[name] = convert(value)
            return item
        return read


# --------------------------------------------------------------------- batch
def pack(batch: str, batch_id: str, timestamp_ms: int, jackpot_id: str, header: list, rows: list[list]) -> bytes:
    return MAGIC + orjson.dumps({"b": batch, "id": batch_id, "ts": timestamp_ms, "j": jackpot_id,
                                 "c": header, "r": rows})


class Unpacked:
    """A compact batch read back: its envelope as an Avro decode would give it, and its rows."""

    def __init__(self, doc: dict) -> None:
        self.doc = doc

    @classmethod
    def parse(cls, value: bytes) -> "Unpacked":
        try:
            doc = orjson.loads(value[len(MAGIC):])
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"compact batch is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("r"), list) or not isinstance(doc.get("c"), list):
            raise DecodeError("compact batch without columns and rows")
        for key, kind in (("b", str), ("id", str), ("j", str), ("ts", int)):
            if not isinstance(doc.get(key), kind):
                raise DecodeError(f"compact batch: {key!r} missing or not a {kind.__name__}")
        return cls(doc)

    @property
    def batch(self) -> str:
        return self.doc["b"]

    def envelope(self) -> dict:
        d = self.doc
        return {"event_id": d["id"], "timestamp": _ms_in(d["ts"]), "jackpot_id": d["j"]}

    def items(self, columns: Columns) -> Iterator[tuple[bytes, dict | DecodeError]]:
        """``(raw, item)`` per row, ``raw`` being the row alone as a one-row batch (what a dead
        letter carries); a row that does not read gives a :class:`DecodeError` instead."""
        d = self.doc
        try:
            read = columns.reader(d["c"])
        except (TypeError, ValueError) as exc:
            raise DecodeError(f"compact batch: bad columns: {exc}") from None
        for row in d["r"]:
            raw = pack(d["b"], d["id"], d["ts"], d["j"], d["c"], [row])
            try:
                yield raw, read(row)
            except DecodeError as exc:
                yield raw, exc
            except (TypeError, ValueError, ArithmeticError, OverflowError) as exc:
                yield raw, DecodeError(f"compact batch row: {exc}")
