"""Avro on the wire: the schemas in ``avro/`` encoded as Avro single-object encoding.

Single-object encoding (``C3 01`` + 8-byte CRC-64-AVRO fingerprint of the schema's
canonical form + the Avro body) lets a reader find the writer's schema from the
message itself without a registry, so one topic may carry several event types and
a consumer can reject a message whose schema it does not know with a precise
reason instead of mis-reading it.

Money travels as Avro ``decimal`` (bytes, scale 6) and is exchanged with the engine
as integer micro-units; a value with more decimals than the scale is an error,
never silently rounded.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
HEADER_LEN = 10


class DecodeError(ValueError):
    """A message that cannot be turned into a valid event; ``reason`` says why."""


class EncodeError(ValueError):
    """A record that does not fit its schema; the message names the field."""


@dataclass(frozen=True)
class Schema:
    name: str
    parsed: Any
    fingerprint: bytes  # 8 bytes, little-endian as in the spec's header

    @property
    def header(self) -> bytes:
        return MAGIC + self.fingerprint


class Catalog:
    """All schemas of ``avro/``, by name and by fingerprint."""

    def __init__(self, raw: dict[str, dict]) -> None:
        self.by_name: dict[str, Schema] = {}
        self.by_fingerprint: dict[bytes, Schema] = {}
        named: dict = {}
        for name, doc in raw.items():
            parsed = fastavro.parse_schema(doc, named_schemas=named)
            fp_hex = fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
            fp = bytes.fromhex(fp_hex)  # fastavro prints the little-endian bytes the header carries
            schema = Schema(name, parsed, fp)
            self.by_name[name] = schema
            self.by_fingerprint[fp] = schema

    @classmethod
    def from_package(cls) -> "Catalog":
        raw = {}
        for entry in sorted(schema_files(), key=lambda e: e.name):
            raw[entry.name[:-5]] = json.loads(entry.read_text())
        return cls(raw)

    def encode(self, name: str, record: dict) -> bytes:
        schema = self.by_name[name]
        buf = io.BytesIO()
        buf.write(schema.header)
        try:
            fastavro.schemaless_writer(buf, schema.parsed, record, strict_allow_default=True)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(f"{name}: {_describe(exc)}") from exc
        return buf.getvalue()

    def decode(self, data: bytes | None, expect: str | tuple[str, ...] | None = None) -> tuple[str, dict]:
        """Return ``(schema_name, record)`` or raise :class:`DecodeError` with the reason."""
        if not data:
            raise DecodeError("empty message")
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise DecodeError("not Avro single-object encoding (bad magic bytes)")
        schema = self.by_fingerprint.get(bytes(data[2:HEADER_LEN]))
        if schema is None:
            raise DecodeError(f"unknown schema fingerprint {bytes(data[2:HEADER_LEN]).hex()}")
        if expect is not None and schema.name not in ((expect,) if isinstance(expect, str) else expect):
            raise DecodeError(f"unexpected event type {schema.name} (expected {expect})")
        buf = io.BytesIO(data)
        buf.seek(HEADER_LEN)
        try:
            record = fastavro.schemaless_reader(buf, schema.parsed, schema.parsed)
        except Exception as exc:  # fastavro raises many types for truncated or garbled bodies
            raise DecodeError(f"{schema.name}: corrupt body ({type(exc).__name__}: {exc})") from exc
        if buf.tell() != len(data):
            raise DecodeError(f"{schema.name}: {len(data) - buf.tell()} trailing bytes after the record")
        return schema.name, record


def schema_files() -> list:
    """The ``.avsc`` files: installed as ``jackpot/avro`` data, or the checkout's ``avro/``."""
    try:
        root = resources.files("jackpot.avro")
    except ModuleNotFoundError:  # editable install: the folder is not importable by name
        root = Path(__file__).resolve().parent.parent / "avro"
    return [e for e in root.iterdir() if e.name.endswith(".avsc")]


def _describe(exc: Exception) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return Catalog.from_package()


# ---------------------------------------------------------------- money edges
MICRO = Decimal("0.000001")


def decimal_to_micros(value: Decimal, field: str) -> int:
    """Avro decimal -> integer micro-units; refuses values finer than the scale."""
    scaled = value.scaleb(6)
    if scaled != scaled.to_integral_value():
        raise DecodeError(f"{field}: {value} has more than 6 decimal places")
    return int(scaled)


def micros_to_decimal(micros: int) -> Decimal:
    return Decimal(micros).scaleb(-6).quantize(MICRO)


