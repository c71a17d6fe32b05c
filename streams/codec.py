"""Avro on the wire: the schemas in ``avro/`` in one of two framings.

* **Confluent wire format** (``00`` + 4-byte big-endian schema id + Avro body) when a schema
  registry is configured (``SCHEMA_REGISTRY_URL``): what Confluent/Apicurio serializers in any
  language produce and expect, so providers can use their stock serializers.
* **Avro single-object encoding** (``C3 01`` + 8-byte CRC-64-AVRO fingerprint + body) when no
  registry is configured: the writer's schema is found from the message itself.

A registry-backed catalog reads both framings, so producers can move from one to the other
without a flag day. One topic may carry several event types; a consumer rejects a message
whose schema it does not know, or cannot read, with a reason that names the field.

Money travels as Avro ``decimal`` (bytes, scale 6) and is exchanged with the engine as
integer micro-units; a value with more decimals than the scale is an error, never rounded.

Providers' messages (:data:`EXTERNAL_SCHEMAS`) are refused above ``max_input_bytes`` before
their body is read, and a decimal longer than its precision allows is refused before it becomes
a Decimal: fastavro converts a decimal's bytes in quadratic time (a 256 KB ``bet_amount`` held
the event loop ~6 s, 1 MB ~100 s, past the group's session timeout). Internal topics carry
large batches legitimately and are not limited.

Errors are split by whether retrying can help: :class:`DecodeError` and :class:`EncodeError`
mean the message or record itself is wrong (dead-letter it); ``RegistryUnavailable`` from
:mod:`jackpot.streams.registry` means the registry could not be asked (retry, do not
dead-letter valid messages).
"""

from __future__ import annotations

import importlib.util
import io
import json
import struct
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import LOGICAL_READERS
from fastavro.schema import fingerprint, to_parsing_canonical_form
from faust.serializers.codecs import Codec

from jackpot.settings import Settings

MAGIC = b"\xc3\x01"
HEADER_LEN = 10
CONFLUENT_MAGIC = 0
CONFLUENT_HEADER_LEN = 5
NAMESPACE = "jackpot.events"

# What game providers and the player service publish: untrusted, so size-limited before decoding.
EXTERNAL_SCHEMAS = frozenset({"BetPlaced", "PlayerProfile", "PlayerSessionStart", "PlayerSessionEnd"})
# A real BetPlaced is ~100-300 bytes; at this size the slowest body measured decodes in ~2 ms.
DEFAULT_MAX_INPUT_BYTES = 4096


class DecodeError(ValueError):
    """A message that cannot be turned into a valid event; the message says why and where."""


class EncodeError(ValueError):
    """A record that does not fit its schema; the message names the field."""


# ---------------------------------------------------------------------- schemas
@dataclass(frozen=True)
class Schema:
    """One parsed schema: the current contract, or a released version still readable."""

    name: str
    doc: dict
    parsed: Any
    fingerprint: bytes  # 8 bytes, little-endian as in the spec's header
    version: int | None = None  # released version number; None for the working copy
    checks: Callable[[dict], str | None] = field(default=lambda r: None, compare=False, repr=False)

    @property
    def header(self) -> bytes:
        return MAGIC + self.fingerprint

    @property
    def fullname(self) -> str:
        return full_name(self.doc)

    @classmethod
    def parse(cls, name: str, doc: dict, version: int | None = None) -> "Schema":
        # Each file is self-contained: parse it with its own named-type scope, so two files
        # may both define e.g. a nested record without clashing.
        parsed = fastavro.parse_schema(doc, named_schemas={})
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        return cls(name, doc, parsed, fp, version, logical_checker(doc))


def full_name(doc: dict) -> str:
    name = doc["name"]
    return name if "." in name or not doc.get("namespace") else f"{doc['namespace']}.{name}"


class Catalog:
    """All schemas of ``avro/``, by name and by fingerprint (released versions included)."""

    wire_format = "single-object"

    def __init__(self, raw: dict[str, dict], released: dict[str, list[tuple[int, dict]]] | None = None,
                 *, max_input_bytes: int | None = DEFAULT_MAX_INPUT_BYTES) -> None:
        # the limit is the catalog's, by reader schema: no caller can decode providers' input without it
        self.max_bytes: dict[str, int] = {} if max_input_bytes is None else {
            name: max_input_bytes for name in EXTERNAL_SCHEMAS if name in raw}
        self.by_name: dict[str, Schema] = {}
        self.by_fullname: dict[str, Schema] = {}
        # fingerprint -> (writer schema, reader schema): an older released writer is read
        # with the current schema, which FULL_TRANSITIVE compatibility makes safe.
        self.by_fingerprint: dict[bytes, tuple[Schema, Schema]] = {}
        for name, doc in raw.items():
            schema = Schema.parse(name, doc)
            self.by_name[name] = schema
            self.by_fullname[schema.fullname] = schema
            self.by_fingerprint[schema.fingerprint] = (schema, schema)
        for name, versions in (released or {}).items():
            reader = self.by_name.get(name)
            if reader is None:
                continue  # a retired schema: nothing reads it any more
            for version, doc in versions:
                writer = Schema.parse(name, doc, version)
                self.by_fingerprint.setdefault(writer.fingerprint, (writer, reader))

    @classmethod
    def from_package(cls, max_input_bytes: int | None = DEFAULT_MAX_INPUT_BYTES) -> "Catalog":
        raw, released = load_schemas()
        return cls(raw, released, max_input_bytes=max_input_bytes)

    # ------------------------------------------------------------------ encode
    def encode(self, name: str, record: dict) -> bytes:
        schema = self._schema(name)
        return schema.header + self._body(schema, record)

    def _schema(self, name: str) -> Schema:
        try:
            return self.by_name[name]
        except KeyError:
            raise EncodeError(f"unknown schema {name!r}; known: {', '.join(sorted(self.by_name))}") from None

    def _body(self, schema: Schema, record: dict) -> bytes:
        buf = io.BytesIO()
        try:
            fastavro.schemaless_writer(buf, schema.parsed, record, strict_allow_default=True)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            fixed = _requantize(schema.doc, record)
            if fixed is None:
                raise EncodeError(
                    explain_record(schema.doc, record, schema.name) or f"{schema.name}: {_describe(exc)}"
                ) from exc
            return self._body(schema, fixed)
        problem = schema.checks(record)  # what fastavro does not check on write
        if problem:
            raise EncodeError(f"{schema.name}.{problem}")
        return buf.getvalue()

    # ------------------------------------------------------------------ decode
    def decode(self, data: bytes | None, expect: str | tuple[str, ...] | None = None) -> tuple[str, dict]:
        """Return ``(schema_name, record)`` or raise :class:`DecodeError` with the reason."""
        if not data:
            raise DecodeError("empty message")
        data = bytes(data)
        if data[:2] == MAGIC:
            return self._decode_single_object(data, expect)
        if data[0] == CONFLUENT_MAGIC:
            return self._decode_confluent(data, expect)
        raise DecodeError(
            f"not Avro: bad magic bytes {data[:2].hex()} (expected c301 single-object encoding "
            f"or 00 Confluent wire format)"
        )

    def _decode_single_object(self, data: bytes, expect) -> tuple[str, dict]:
        if len(data) < HEADER_LEN:
            raise DecodeError(f"truncated single-object header: {len(data)} of {HEADER_LEN} bytes")
        fp = data[2:HEADER_LEN]
        pair = self.by_fingerprint.get(fp)
        if pair is None:
            raise DecodeError(
                f"unknown schema fingerprint {fp.hex()} (not a current or released schema of this system)"
            )
        writer, reader = pair
        _check_expected(reader.name, expect)
        return reader.name, self._read(writer.parsed, writer.doc, reader, data, HEADER_LEN)

    def _decode_confluent(self, data: bytes, expect) -> tuple[str, dict]:
        if len(data) < CONFLUENT_HEADER_LEN:
            raise DecodeError(f"truncated Confluent header: {len(data)} of {CONFLUENT_HEADER_LEN} bytes")
        schema_id = struct.unpack(">I", data[1:5])[0]
        raise DecodeError(
            f"Confluent wire format (schema id {schema_id}) but no schema registry is configured "
            "(set SCHEMA_REGISTRY_URL)"
        )

    def _read(self, writer_parsed: Any, writer_doc: dict, reader: Schema, data: bytes, offset: int) -> dict:
        limit = self.max_bytes.get(reader.name)
        if limit is not None and len(data) > limit:
            raise DecodeError(f"{reader.name}: message of {len(data)} bytes is over the {limit}-byte limit "
                              "of providers' input (JACKPOT_MAX_INPUT_BYTES)")
        buf = io.BytesIO(data)
        buf.seek(offset)
        try:
            # the same schema: no resolution, and no deep comparison of the two on every message
            resolve = None if writer_parsed is reader.parsed else reader.parsed
            record = fastavro.schemaless_reader(buf, writer_parsed, resolve)
        except Exception as exc:  # fastavro raises many types for truncated or garbled bodies
            where = explain_body(writer_doc, data, offset, reader.name)
            raise DecodeError(where or f"{reader.name}: corrupt body ({type(exc).__name__}: {exc})") from exc
        if buf.tell() != len(data):
            raise DecodeError(f"{reader.name}: {len(data) - buf.tell()} trailing bytes after the record")
        problem = reader.checks(record)
        if problem:
            raise DecodeError(f"{reader.name}.{problem}")
        return record


class RegistryCatalog(Catalog):
    """The catalog over a Confluent-compatible schema registry (Confluent wire format).

    Our own schemas are looked up, or registered, once at start-up under their record name
    (RecordNameStrategy), so encoding never waits for the network. A writer schema id first
    seen while decoding is fetched once and checked against our reader schema; the verdict
    is cached, so a bad producer costs one registry call, not one per message.
    """

    wire_format = "confluent"
    NEGATIVE_TTL_S = 30.0

    def __init__(
        self,
        registry: Any,
        raw: dict[str, dict],
        released: dict[str, list[tuple[int, dict]]] | None = None,
        auto_register: bool = True,
        max_input_bytes: int | None = DEFAULT_MAX_INPUT_BYTES,
    ) -> None:
        super().__init__(raw, released, max_input_bytes=max_input_bytes)
        self.registry = registry
        self.ids: dict[str, int] = {}
        self.prefixes: dict[str, bytes] = {}
        self._writers: dict[int, tuple[Schema, Schema] | DecodeError] = {}
        self._unknown: dict[int, float] = {}
        for name, schema in self.by_name.items():
            schema_id = registry.ensure(schema.doc, register=auto_register)
            self.ids[name] = schema_id
            self.prefixes[name] = struct.pack(">bI", CONFLUENT_MAGIC, schema_id)
            self._writers[schema_id] = (schema, schema)

    @classmethod
    def connect(cls, url: str, auto_register: bool = True,
                max_input_bytes: int | None = DEFAULT_MAX_INPUT_BYTES) -> "RegistryCatalog":
        from jackpot.streams.registry import SchemaRegistry

        raw, released = load_schemas()
        return cls(SchemaRegistry(url), raw, released, auto_register=auto_register,
                   max_input_bytes=max_input_bytes)

    def encode(self, name: str, record: dict) -> bytes:
        schema = self._schema(name)
        return self.prefixes[name] + self._body(schema, record)

    def _decode_confluent(self, data: bytes, expect) -> tuple[str, dict]:
        if len(data) < CONFLUENT_HEADER_LEN:
            raise DecodeError(f"truncated Confluent header: {len(data)} of {CONFLUENT_HEADER_LEN} bytes")
        schema_id = struct.unpack(">I", data[1:5])[0]
        pair = self._writers.get(schema_id)
        if pair is None:
            pair = self._resolve(schema_id)
        if isinstance(pair, DecodeError):
            raise DecodeError(str(pair))
        writer, reader = pair
        _check_expected(reader.name, expect)
        return reader.name, self._read(writer.parsed, writer.doc, reader, data, CONFLUENT_HEADER_LEN)

    def _resolve(self, schema_id: int) -> tuple[Schema, Schema] | DecodeError:
        from jackpot.streams.registry import reading_problems

        seen = self._unknown.get(schema_id)
        if seen is not None and time.monotonic() - seen < self.NEGATIVE_TTL_S:
            return DecodeError(f"unknown schema id {schema_id} (not in the schema registry)")
        doc = self.registry.schema_by_id(schema_id)  # RegistryUnavailable propagates: retry, not dead-letter
        if doc is None:
            if len(self._unknown) >= 10_000:  # garbage with random ids must not grow this forever
                self._unknown.clear()
            self._unknown[schema_id] = time.monotonic()
            return DecodeError(f"unknown schema id {schema_id} (not in the schema registry)")
        verdict: tuple[Schema, Schema] | DecodeError
        try:
            name = full_name(doc) if isinstance(doc, dict) and doc.get("type") == "record" else None
            reader = self.by_fullname.get(name) if name else None
            if reader is None:
                verdict = DecodeError(
                    f"schema id {schema_id} is {name or 'not a record'}, not an event this system reads"
                )
            else:
                problems = reading_problems(reader.doc, doc)
                if problems:
                    verdict = DecodeError(
                        f"{reader.name}: writer schema id {schema_id} cannot be read: " + "; ".join(problems)
                    )
                else:
                    verdict = (Schema.parse(reader.name, doc), reader)
        except Exception as exc:  # an unparsable schema in the registry is the producer's fault
            verdict = DecodeError(f"schema id {schema_id} cannot be parsed: {_describe(exc)}")
        self._writers[schema_id] = verdict
        return verdict


def _check_expected(name: str, expect: str | tuple[str, ...] | None) -> None:
    if expect is not None and name not in ((expect,) if isinstance(expect, str) else expect):
        raise DecodeError(f"unexpected event type {name} (expected {expect})")


# --------------------------------------------------------------------- loading
def avro_root() -> Path:
    """The folder of the ``.avsc`` files: installed ``jackpot/avro`` data, or the checkout's ``avro/``."""
    try:
        spec = importlib.util.find_spec("jackpot.avro")  # a namespace package: it has no __init__.py
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(__file__).resolve().parent.parent / "avro"


def schema_files() -> list[Path]:
    return sorted((p for p in avro_root().iterdir() if p.name.endswith(".avsc")), key=lambda p: p.name)


def released_files(root: Path | None = None) -> dict[str, list[tuple[int, Path]]]:
    """``avro/released/<Name>/v<N>.avsc``: every released version, oldest first."""
    base = (root or avro_root()) / "released"
    out: dict[str, list[tuple[int, Path]]] = {}
    if not base.is_dir():
        return out
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        versions = []
        for p in folder.glob("v*.avsc"):
            try:
                versions.append((int(p.stem[1:]), p))
            except ValueError:
                continue
        out[folder.name] = sorted(versions)
    return out


def load_schemas(root: Path | None = None) -> tuple[dict[str, dict], dict[str, list[tuple[int, dict]]]]:
    base = root or avro_root()
    raw = {p.name[:-5]: json.loads(p.read_text()) for p in sorted(base.glob("*.avsc"))}
    released = {
        name: [(v, json.loads(p.read_text())) for v, p in versions] for name, versions in released_files(base).items()
    }
    return raw, released


def registry_url_from_env() -> str | None:
    """The schema registry's base URL (``SCHEMA_REGISTRY_URL``), or None for single-object encoding."""
    return Settings().schema_registry_url.strip() or None


def registry_auto_register_from_env() -> bool:
    """Whether to register our schemas when missing (``SCHEMA_REGISTRY_AUTO_REGISTER``, default true)."""
    return Settings().schema_registry_auto_register


def max_input_bytes_from_env() -> int:
    """The size limit of providers' messages (``JACKPOT_MAX_INPUT_BYTES``, default 4096)."""
    return Settings().max_input_bytes


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    url = registry_url_from_env()
    limit = max_input_bytes_from_env()
    if url:
        return RegistryCatalog.connect(url, auto_register=registry_auto_register_from_env(), max_input_bytes=limit)
    return Catalog.from_package(max_input_bytes=limit)


# ----------------------------------------------------------------- faust codec
class AvroCodec(Codec):
    """A Faust codec: ``app.topic(..., value_serializer=AvroCodec("BetPlaced"))``.

    Dumps a dict in the configured wire format and loads it back; a message that cannot be
    read raises :class:`DecodeError`, which Faust hands to the stream's decode-error path.
    Without a schema name it encodes by the record's ``event_type`` and loads any event.
    """

    def __init__(self, schema_name: str | None = None, children: tuple = (), **kwargs: Any) -> None:
        super().__init__(children=children, schema_name=schema_name, **kwargs)

    def _dumps(self, obj: Any) -> bytes:
        name = self.kwargs.get("schema_name") or obj.get("event_type")
        return catalog().encode(name, obj)

    def _loads(self, s: bytes) -> Any:
        return catalog().decode(s, expect=self.kwargs.get("schema_name"))[1]


def register_faust_codecs(names: Iterable[str] | None = None) -> list[str]:
    """Register ``avro`` (any event) and ``avro.<Name>`` codecs by name with Faust."""
    from faust.serializers import codecs

    codecs.register("avro", AvroCodec())
    out = ["avro"]
    for name in names or [p.name[:-5] for p in schema_files()]:
        codecs.register(f"avro.{name}", AvroCodec(name))
        out.append(f"avro.{name}")
    return out


# ---------------------------------------------------------------- diagnostics
# fastavro is the fast path; when it refuses a record or a body, these walk the schema once
# more to say which field is at fault.


def _named_types(doc: Any, names: dict[str, Any], namespace: str = "") -> None:
    if isinstance(doc, list):
        for d in doc:
            _named_types(d, names, namespace)
    elif isinstance(doc, dict):
        t = doc.get("type")
        if t in ("record", "enum", "fixed", "error"):
            ns = doc.get("namespace", namespace)
            name = doc["name"] if "." in doc["name"] else (f"{ns}.{doc['name']}" if ns else doc["name"])
            names[name] = doc
            names[doc["name"].rsplit(".", 1)[-1]] = doc
            for f in doc.get("fields", []):
                _named_types(f["type"], names, ns)
        elif t in ("array", "map"):
            _named_types(doc.get("items", doc.get("values")), names, namespace)
        elif isinstance(t, (dict, list)):
            _named_types(t, names, namespace)


def _deref(t: Any, names: dict[str, Any]) -> Any:
    if isinstance(t, str) and t in names:
        return names[t]
    if isinstance(t, dict) and isinstance(t.get("type"), str) and t["type"] in names and len(t) == 1:
        return names[t["type"]]
    return t


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return " or ".join(_type_name(b) for b in t)
    if t.get("logicalType"):
        lt = t["logicalType"]
        return f"decimal({t.get('precision')},{t.get('scale', 0)})" if lt == "decimal" else lt
    if t.get("type") in ("record", "enum", "fixed"):
        return f"{t['type']} {t['name']}"
    return str(t.get("type"))


INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


def _value_problem(t: Any, v: Any, path: str, names: dict[str, Any]) -> str | None:
    """First problem of value ``v`` against type ``t``, as ``path: what``; None when it fits."""
    t = _deref(t, names)
    if isinstance(t, list):
        for branch in t:
            if _value_problem(branch, v, path, names) is None:
                return None
        non_null = [b for b in t if b != "null"]
        if v is not None and len(non_null) == 1:
            return _value_problem(non_null[0], v, path, names)
        return f"{path}: {v!r} ({type(v).__name__}) is not one of {_type_name(t)}"
    base = t if isinstance(t, str) else t.get("type")
    logical = None if isinstance(t, str) else t.get("logicalType")
    if isinstance(base, (dict, list)):
        return _value_problem(base, v, path, names)
    if logical == "decimal":
        return _decimal_problem(v, int(t.get("precision", 0)), int(t.get("scale", 0)), path)
    if logical in ("timestamp-millis", "timestamp-micros"):
        if isinstance(v, datetime) or (isinstance(v, int) and not isinstance(v, bool)):
            return None
        return f"{path}: expected a datetime or epoch {logical.split('-')[1]} (int), got {type(v).__name__} {v!r}"
    if logical == "uuid":
        if isinstance(v, uuid.UUID):
            return None
        if isinstance(v, str):
            try:
                uuid.UUID(v)
                return None
            except ValueError:
                return f"{path}: {v!r} is not a UUID"
        return f"{path}: expected a UUID string, got {type(v).__name__} {v!r}"
    if base == "null":
        return None if v is None else f"{path}: expected null, got {type(v).__name__} {v!r}"
    if base == "boolean":
        return None if isinstance(v, bool) else f"{path}: expected boolean, got {type(v).__name__} {v!r}"
    if base in ("int", "long"):
        if v is None:
            return f"{path}: required {base} is null"
        if not isinstance(v, int) or isinstance(v, bool):
            return f"{path}: expected {base}, got {type(v).__name__} {v!r}"
        lo, hi = INT_RANGE if base == "int" else LONG_RANGE
        return None if lo <= v <= hi else f"{path}: {v} is out of range for {base}"
    if base in ("float", "double"):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        return None if ok else f"{path}: expected {base}, got {type(v).__name__} {v!r}"
    if base == "string":
        if v is None:
            return f"{path}: required string is null"
        return None if isinstance(v, str) else f"{path}: expected string, got {type(v).__name__} {v!r}"
    if base == "bytes":
        return (
            None if isinstance(v, (bytes, bytearray, memoryview)) else f"{path}: expected bytes, got {type(v).__name__}"
        )
    if base == "fixed":
        ok = isinstance(v, (bytes, bytearray)) and len(v) == t["size"]
        return None if ok else f"{path}: expected {t['size']} bytes"
    if base == "enum":
        if v in t["symbols"]:
            return None
        return f"{path}: {v!r} is not one of {', '.join(t['symbols'])}"
    if base == "array":
        if not isinstance(v, (list, tuple)):
            return f"{path}: expected a list, got {type(v).__name__}"
        for i, item in enumerate(v):
            p = _value_problem(t["items"], item, f"{path}[{i}]", names)
            if p:
                return p
        return None
    if base == "map":
        if not isinstance(v, dict):
            return f"{path}: expected a map, got {type(v).__name__}"
        for k, item in v.items():
            if not isinstance(k, str):
                return f"{path}: map key {k!r} is not a string"
            p = _value_problem(t["values"], item, f"{path}[{k!r}]", names)
            if p:
                return p
        return None
    if base in ("record", "error"):
        if not isinstance(v, dict):
            return f"{path}: expected a record ({t['name']}), got {type(v).__name__}"
        known = {f["name"] for f in t["fields"]}
        for f in t["fields"]:
            fp = f"{path}.{f['name']}"
            if f["name"] not in v:
                if "default" in f:
                    continue
                return f"{fp}: missing required field ({_type_name(_deref(f['type'], names))})"
            p = _value_problem(f["type"], v[f["name"]], fp, names)
            if p:
                return p
        extra = sorted(set(v) - known)
        if extra:
            return f"{path}: unknown field(s) {', '.join(map(repr, extra))} (not in the schema)"
        return None
    return f"{path}: unsupported schema type {base!r}"


def _decimal_problem(v: Any, precision: int, scale: int, path: str) -> str | None:
    if not isinstance(v, Decimal):
        hint = " (floats are never used for money)" if isinstance(v, float) else ""
        return f"{path}: expected a Decimal for decimal({precision},{scale}), got {type(v).__name__} {v!r}{hint}"
    if not v.is_finite():
        return f"{path}: {v} is not a finite amount"
    exp = v.as_tuple().exponent
    if isinstance(exp, int) and -exp > scale:
        try:
            exact = v.quantize(Decimal(1).scaleb(-scale)) == v
        except InvalidOperation:
            exact = False
        if not exact:
            return f"{path}: {v} has {-exp} decimal places, more than the scale {scale}"
    limit = Decimal(10) ** (precision - scale)
    if abs(v) >= limit:
        return f"{path}: {v} has more than {precision - scale} integer digits (precision {precision}, scale {scale})"
    return None


def explain_record(doc: dict, record: Any, label: str) -> str | None:
    names: dict[str, Any] = {}
    _named_types(doc, names)
    return _value_problem(doc, record, label, names)


def _requantize(doc: dict, record: Any) -> Any | None:
    """A copy whose decimals with redundant trailing zeros (2.0000000) are brought to the
    schema's scale, when that is all that stopped fastavro; None when something else is wrong."""
    names: dict[str, Any] = {}
    _named_types(doc, names)
    changed = [False]

    def fix(t: Any, v: Any) -> Any:
        t = _deref(t, names)
        if isinstance(t, list):
            for branch in t:
                b = _deref(branch, names)
                if isinstance(b, dict) and b.get("logicalType") == "decimal" and isinstance(v, Decimal):
                    return fix(b, v)
            return v
        if not isinstance(t, dict):
            return v
        if t.get("logicalType") == "decimal" and isinstance(v, Decimal) and v.is_finite():
            q = Decimal(1).scaleb(-int(t.get("scale", 0)))
            exp = v.as_tuple().exponent
            if isinstance(exp, int) and -exp > int(t.get("scale", 0)):
                try:
                    r = v.quantize(q)
                except InvalidOperation:
                    return v
                if r == v:
                    changed[0] = True
                    return r
            return v
        kind = t.get("type")
        if kind == "record" and isinstance(v, dict):
            out = dict(v)
            for f in t["fields"]:
                if f["name"] in out:
                    out[f["name"]] = fix(f["type"], out[f["name"]])
            return out
        if kind == "array" and isinstance(v, (list, tuple)):
            return [fix(t["items"], x) for x in v]
        if kind == "map" and isinstance(v, dict):
            return {k: fix(t["values"], x) for k, x in v.items()}
        if isinstance(kind, (dict, list)):
            return fix(kind, v)
        return v

    fixed = fix(doc, record)
    if not changed[0] or explain_record(doc, fixed, "x") is not None:
        return None
    return fixed


def logical_checker(doc: dict) -> Callable[[dict], str | None]:
    """A cheap per-record check of what fastavro does not enforce on write.

    fastavro enforces a decimal's scale but writes any number of integer digits (a Java or
    Confluent reader would then refuse the message), and writes any text as a ``uuid``. Only
    the paths that hold decimals or UUIDs are walked.
    """
    names: dict[str, Any] = {}
    _named_types(doc, names)

    def compile_(t: Any, depth: int = 0) -> Callable[[Any, str], str | None] | None:
        t = _deref(t, names)
        if depth > 20:
            return None
        if isinstance(t, list):
            checks = [c for c in (compile_(b, depth + 1) for b in t) if c]
            if not checks:
                return None
            return lambda v, p: next((r for r in (c(v, p) for c in checks) if r), None)
        if not isinstance(t, dict):
            return None
        if t.get("logicalType") == "decimal":
            limit = Decimal(10) ** (int(t.get("precision", 0)) - int(t.get("scale", 0)))
            prec = int(t.get("precision", 0))

            def check(v: Any, p: str) -> str | None:
                if isinstance(v, Decimal) and abs(v) >= limit:
                    return f"{p}: {v} exceeds the precision {prec} of its decimal type"
                return None

            return check

        if t.get("logicalType") == "uuid":

            def check_uuid(v: Any, p: str) -> str | None:
                if isinstance(v, str):
                    try:
                        uuid.UUID(v)
                    except ValueError:
                        return f"{p}: {v!r} is not a UUID"
                return None

            return check_uuid
        kind = t.get("type")
        if kind == "record":
            parts = [(f["name"], c) for f in t["fields"] if (c := compile_(f["type"], depth + 1))]
            if not parts:
                return None

            def check_record(v: Any, p: str) -> str | None:
                if not isinstance(v, dict):
                    return None
                for fname, c in parts:
                    if fname in v:
                        r = c(v[fname], f"{p}.{fname}" if p else fname)
                        if r:
                            return r
                return None

            return check_record
        if kind == "array":
            c = compile_(t["items"], depth + 1)
            if not c:
                return None
            return lambda v, p: next((r for i, x in enumerate(v or ()) if (r := c(x, f"{p}[{i}]"))), None)
        if kind == "map":
            c = compile_(t["values"], depth + 1)
            if not c:
                return None
            return lambda v, p: next((r for k, x in (v or {}).items() if (r := c(x, f"{p}[{k!r}]"))), None)
        if isinstance(kind, (dict, list)):
            return compile_(kind, depth + 1)
        return None

    top = compile_(doc)
    if top is None:
        return lambda record: None
    return lambda record: top(record, "")


class _Truncated(Exception):
    pass


class _Garbled(Exception):
    pass


def explain_body(doc: dict, data: bytes, offset: int, label: str) -> str | None:
    """Walk an Avro body with the writer's schema and say at which field it breaks."""
    names: dict[str, Any] = {}
    _named_types(doc, names)
    pos = [offset]

    def take(n: int, path: str) -> bytes:
        if pos[0] + n > len(data):
            raise _Truncated(
                f"{path}: message ends at byte {len(data)}, {pos[0] + n - len(data)} byte(s) short (truncated)"
            )
        out = data[pos[0] : pos[0] + n]
        pos[0] += n
        return out

    def varint(path: str) -> int:
        shift = result = 0
        while True:
            if pos[0] >= len(data):
                raise _Truncated(f"{path}: message ends at byte {len(data)} inside a number (truncated)")
            b = data[pos[0]]
            pos[0] += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return (result >> 1) ^ -(result & 1)
            shift += 7
            if shift > 63:
                raise _Garbled(f"{path}: malformed variable-length number at byte {pos[0]}")

    def length(path: str) -> int:
        n = varint(path)
        if n < 0:
            raise _Garbled(f"{path}: negative length {n} at byte {pos[0]}")
        return n

    def walk(t: Any, path: str) -> None:
        t = _deref(t, names)
        if isinstance(t, list):
            i = varint(path)
            if not 0 <= i < len(t):
                raise _Garbled(f"{path}: union branch {i} does not exist ({_type_name(t)})")
            return walk(t[i], path)
        base = t if isinstance(t, str) else t.get("type")
        if isinstance(base, (dict, list)):
            return walk(base, path)
        if base == "null":
            return None
        if base == "boolean":
            if take(1, path)[0] not in (0, 1):
                raise _Garbled(f"{path}: invalid boolean byte")
            return None
        if base in ("int", "long"):
            varint(path)
            return None
        if base == "float":
            take(4, path)
            return None
        if base == "double":
            take(8, path)
            return None
        if base == "bytes":
            raw = take(length(path), path)
            if isinstance(t, dict) and t.get("logicalType") == "decimal":
                _check_decimal_length(raw, int(t["precision"]), _Garbled, path)
            return None
        if base == "string":
            raw = take(length(path), path)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _Garbled(f"{path}: not valid UTF-8") from None
            if isinstance(t, dict) and t.get("logicalType") == "uuid":
                try:
                    uuid.UUID(text)
                except ValueError:
                    raise _Garbled(f"{path}: {text!r} is not a UUID") from None
            return None
        if base == "fixed":
            take(t["size"], path)
            return None
        if base == "enum":
            i = varint(path)
            if not 0 <= i < len(t["symbols"]):
                raise _Garbled(f"{path}: enum index {i} out of range ({', '.join(t['symbols'])})")
            return None
        if base in ("array", "map"):
            i = 0
            while True:
                n = varint(path)
                if n == 0:
                    return None
                if n < 0:
                    n = -n
                    varint(path)  # block size in bytes
                for _ in range(n):
                    if base == "map":
                        take(length(f"{path} key"), f"{path} key")
                        walk(t["values"], f"{path}[{i}]")
                    else:
                        walk(t["items"], f"{path}[{i}]")
                    i += 1
        if base in ("record", "error"):
            for f in t["fields"]:
                walk(f["type"], f"{path}.{f['name']}")
            return None
        raise _Garbled(f"{path}: unsupported schema type {base!r}")

    try:
        walk(doc, label)
    except (_Truncated, _Garbled) as exc:
        return str(exc)
    return None


def _describe(exc: Exception) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


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


# ------------------------------------------------------------- bounded decimals
@lru_cache(maxsize=None)
def decimal_max_bytes(precision: int) -> int:
    """Bytes of the two's complement of the largest unscaled value of ``precision`` digits."""
    return ((10**precision - 1).bit_length() + 1 + 7) // 8  # + 1: the sign bit


class DecimalTooLong(ValueError):
    """A decimal's bytes hold more digits than its precision."""


def _check_decimal_length(data: bytes, precision: int, error: type[Exception], where: str = "") -> None:
    """Refuse a decimal's bytes that cannot fit ``precision``; leading sign-extension bytes
    (00 or ff, as a fixed-width encoder pads) do not count. Linear in ``len(data)``."""
    limit = decimal_max_bytes(precision)
    n = len(data)
    if n <= limit:
        return
    pad = n - limit
    fill = 0xFF if data[0] & 0x80 else 0x00
    if data[:pad].count(fill) == pad and (data[pad] & 0x80) == (fill & 0x80):
        return
    prefix = f"{where}: " if where else ""
    raise error(f"{prefix}a decimal of {n} bytes cannot fit its precision {precision} "
                f"(at most {limit} significant bytes)")


_read_decimal = LOGICAL_READERS["bytes-decimal"]


def _bounded_decimal(data: bytes, writer_schema: Any = None, reader_schema: Any = None) -> Decimal:
    """fastavro's bytes-decimal reader, refusing before the quadratic int -> Decimal conversion
    what its precision cannot hold (fastavro's documented hook for logical readers)."""
    precision = int(writer_schema["precision"])
    if len(data) > decimal_max_bytes(precision):
        _check_decimal_length(data, precision, DecimalTooLong)
        data = data[len(data) - decimal_max_bytes(precision):]  # only sign padding was cut
    return _read_decimal(data, writer_schema, reader_schema)


LOGICAL_READERS["bytes-decimal"] = _bounded_decimal
