"""Records for every schema, built from the schema itself, and a registry that lives in memory.

Building samples from the ``.avsc`` means a new schema is covered by the round-trip tests the
moment it is added, with a value in every field (optional ones included).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from jackpot.streams.codec import full_name, load_schemas
from jackpot.streams.registry import RegistryUnavailable

WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=dt.timezone.utc)


def schemas() -> dict[str, dict]:
    return load_schemas()[0]


def _names(doc: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(doc, list):
        for d in doc:
            _names(d, out)
    elif isinstance(doc, dict):
        if doc.get("type") in ("record", "enum", "fixed"):
            out[doc["name"]] = doc
            for f in doc.get("fields", []):
                _names(f["type"], out)
        elif doc.get("type") in ("array", "map"):
            _names(doc.get("items", doc.get("values")), out)
        elif isinstance(doc.get("type"), (dict, list)):
            _names(doc["type"], out)
    return out


def sample(doc: Any, path: str = "", names: dict | None = None, amount: Decimal | None = None) -> Any:
    """A value for every field; decimals get ``amount`` (or a typical value at full scale)."""
    names = names if names is not None else _names(doc, {})
    if isinstance(doc, str) and doc in names:
        doc = names[doc]
    if isinstance(doc, list):
        return sample(next(b for b in doc if b != "null"), path, names, amount)
    t = doc if isinstance(doc, str) else doc.get("type")
    logical = None if isinstance(doc, str) else doc.get("logicalType")
    if logical == "decimal":
        if amount is not None:
            return amount
        scale = doc.get("scale", 0)
        return Decimal("12.345678").quantize(Decimal(1).scaleb(-scale)) if scale else Decimal(12)
    if logical == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, path))
    if logical == "timestamp-millis":
        return WHEN
    if isinstance(t, (dict, list)):
        return sample(t, path, names, amount)
    return {
        "string": lambda: f"{path.rsplit('.', 1)[-1]}-value",
        "int": lambda: 7,
        "long": lambda: 2**40 + 3,
        "boolean": lambda: True,
        "double": lambda: 1.5,
        "float": lambda: 0.5,
        "bytes": lambda: b"\x00\xffbytes",
        "null": lambda: None,
        "enum": lambda: doc["symbols"][-1],
        "array": lambda: [
            sample(doc["items"], f"{path}[0]", names, amount),
            sample(doc["items"], f"{path}[1]", names, amount),
        ],
        "map": lambda: {"k": sample(doc["values"], f"{path}[k]", names, amount)},
        "record": lambda: {
            f["name"]: f["default"]
            if f["name"] == "event_type"
            else sample(f["type"], f"{path}.{f['name']}", names, amount)
            for f in doc["fields"]
        },
    }[t]()


def decimal_fields(doc: Any, path: str = "", names: dict | None = None) -> list[tuple[str, int, int]]:
    """(path, precision, scale) of every decimal in a schema."""
    names = names if names is not None else _names(doc, {})
    if isinstance(doc, str):
        return decimal_fields(names[doc], path, names) if doc in names else []
    if isinstance(doc, list):
        return [d for b in doc for d in decimal_fields(b, path, names)]
    if doc.get("logicalType") == "decimal":
        return [(path, doc["precision"], doc.get("scale", 0))]
    t = doc.get("type")
    if t == "record":
        return [d for f in doc["fields"] for d in decimal_fields(f["type"], f"{path}.{f['name']}", names)]
    if t == "array":
        return decimal_fields(doc["items"], f"{path}[0]", names)
    if t == "map":
        return decimal_fields(doc["values"], f"{path}['k']", names)
    if isinstance(t, (dict, list)):
        return decimal_fields(t, path, names)
    return []


def set_path(record: dict, path: str, value: Any) -> dict:
    """Set ``.levels[0].net_amount``-style paths in a (nested) sample record, in place."""
    import re

    tokens = re.findall(r"\.(\w+)|\[(\d+)\]|\['(\w+)'\]", path)
    node: Any = record
    for i, (name, index, key) in enumerate(tokens):
        k: Any = name or (int(index) if index else key)
        if i == len(tokens) - 1:
            node[k] = value
        else:
            node = node[k]
    return record


def normal(value: Any) -> Any:
    """Compare decoded with sent: UUIDs as text, nested containers alike."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


class MemoryRegistry:
    """What RegistryCatalog needs from a registry, kept in a dict (ids from 100 up)."""

    def __init__(self) -> None:
        self.by_id: dict[int, dict] = {}
        self.subjects: dict[str, list[int]] = {}
        self.lookups = 0

    def ensure(self, doc: dict, register: bool = True) -> int:
        for schema_id, known in self.by_id.items():
            if known == doc:
                return schema_id
        if not register:
            raise LookupError(f"{full_name(doc)} not registered")
        return self.register(doc)

    def register(self, doc: dict, subject: str | None = None) -> int:
        schema_id = 100 + len(self.by_id)
        self.by_id[schema_id] = doc
        self.subjects.setdefault(subject or full_name(doc), []).append(schema_id)
        return schema_id

    def schema_by_id(self, schema_id: int) -> dict | None:
        self.lookups += 1
        return self.by_id.get(schema_id)


class DownRegistry(MemoryRegistry):
    """A registry that answers at start-up, then goes away."""

    down = False

    def schema_by_id(self, schema_id: int) -> dict | None:
        if self.down:
            raise RegistryUnavailable("schema registry http://127.0.0.1:1: connection refused")
        return super().schema_by_id(schema_id)
