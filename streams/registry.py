"""Schema registry: the Confluent-compatible client, and the contract's release history.

Two questions live here, both about which schemas may meet on a topic:

* **Can this reader read that writer?** :func:`reading_problems` asks the Apache Avro library's
  own reader/writer compatibility checker (``avro.compatibility``, the port of Java's
  ``SchemaCompatibility`` that Confluent's registry uses), then adds one rule it lacks: a
  decimal's precision and scale, and other logical types, must not change, because Avro
  resolution ignores logical types and a scale change would silently re-value money.
* **Is a new version FULL_TRANSITIVE compatible with every released one?**
  :func:`full_transitive_problems` checks both directions against each version in
  ``avro/released/<Name>/v<N>.avsc``. ``python -m jackpot.streams.registry check`` runs it for
  every schema; ``release`` snapshots the changed ones (see docs/schema-evolution.md).

:class:`SchemaRegistry` talks to a Confluent-compatible registry (Confluent Schema Registry,
Apicurio's ``/apis/ccompat/v7``, Karapace, Redpanda) through ``python-schema-registry-client``.
Subjects follow RecordNameStrategy (``jackpot.events.BetPlaced``): one subject per event type,
whatever topic carries it, and the subject's compatibility is set to FULL_TRANSITIVE when
this code creates it, so the registry enforces the same rule as the local check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    lookup_writer_field,
    schema_name_equals,
)

from jackpot.streams.codec import avro_root, full_name, load_schemas

COMPATIBILITY = "FULL_TRANSITIVE"


class RegistryUnavailable(RuntimeError):
    """The registry could not be asked (down, timeout, 5xx). Retry; never dead-letter for this."""


class RegistryRefused(RuntimeError):
    """The registry answered no: an incompatible or invalid schema, or a subject we may not write."""


# ------------------------------------------------------------ compatibility
def _parse(doc: dict | str) -> avro.schema.Schema:
    return avro.schema.parse(doc if isinstance(doc, str) else json.dumps(doc))


def _path(doc: Any, location: list[str], label: str) -> str:
    """Turn the checker's location (``/fields/8/type``) into a field path (``BetPlaced.bet_amount``)."""
    names: dict[str, Any] = {}
    _collect_names(doc, names)
    node: Any = doc
    out = label
    i = 0
    tokens = [t for t in location if t != "/"]
    while i < len(tokens):
        tok = tokens[i]
        node = names.get(node, node) if isinstance(node, str) else node
        if tok == "fields" and i + 1 < len(tokens) and isinstance(node, dict):
            fld = node["fields"][int(tokens[i + 1])]
            out += f".{fld['name']}"
            node = fld["type"]
            i += 2
            continue
        if tok == "type":
            i += 1
            continue
        if tok in ("items", "values") and isinstance(node, dict):
            out += "[]"
            node = node[tok]
        elif tok.isdigit() and isinstance(node, list):
            node = node[int(tok)]
        i += 1
    return out


def _collect_names(doc: Any, names: dict[str, Any]) -> None:
    if isinstance(doc, list):
        for d in doc:
            _collect_names(d, names)
    elif isinstance(doc, dict):
        if doc.get("type") in ("record", "enum", "fixed"):
            names[doc["name"]] = doc
            for f in doc.get("fields", []):
                _collect_names(f["type"], names)
        elif doc.get("type") in ("array", "map"):
            _collect_names(doc.get("items", doc.get("values")), names)
        elif isinstance(doc.get("type"), (dict, list)):
            _collect_names(doc["type"], names)


def _leaf_types(doc: Any, prefix: str, names: dict[str, Any], out: dict[str, tuple], depth: int = 0) -> None:
    """The type of every leaf by field path: (base type, logical type, precision, scale).

    An optional value (``["null", X]``) is keyed like ``X`` itself, so making a field optional
    is not mistaken for a change of its logical type.
    """
    if depth > 30:
        return
    if isinstance(doc, str):
        if doc in names:
            _leaf_types(names[doc], prefix, {k: v for k, v in names.items() if k != doc}, out, depth + 1)
        elif doc != "null":
            out[prefix] = (doc, None, None, None)
        return
    if isinstance(doc, list):
        branches = [b for b in doc if b != "null"]
        for branch in branches:
            base = branch if isinstance(branch, str) else branch.get("type")
            key = prefix if len(branches) == 1 else f"{prefix}<{base if isinstance(base, str) else 'complex'}>"
            _leaf_types(branch, key, names, out, depth + 1)
        return
    if not isinstance(doc, dict):
        return
    kind = doc.get("type")
    if doc.get("logicalType"):
        out[prefix] = (kind, doc["logicalType"], doc.get("precision"), doc.get("scale", 0))
    elif kind == "record":
        for f in doc["fields"]:
            _leaf_types(f["type"], f"{prefix}.{f['name']}", names, out, depth + 1)
    elif kind == "array":
        _leaf_types(doc["items"], f"{prefix}[]", names, out, depth + 1)
    elif kind == "map":
        _leaf_types(doc["values"], f"{prefix}[]", names, out, depth + 1)
    elif kind in ("enum", "fixed"):
        out[prefix] = (kind, None, None, None)
    elif isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind in names):
        _leaf_types(kind, prefix, names, out, depth + 1)
    elif isinstance(kind, str):
        out[prefix] = (kind, None, None, None)


def _describe_leaf(sig: tuple) -> str:
    base, logical, precision, scale = sig
    if logical == "decimal":
        return f"decimal({precision},{scale})"
    return f"{base} ({logical})" if logical else f"plain {base}"


def logical_type_problems(reader: dict, writer: dict, label: str) -> list[str]:
    """Avro resolution ignores logical types; money and ids must not change meaning silently."""
    names_r: dict[str, Any] = {}
    names_w: dict[str, Any] = {}
    _collect_names(reader, names_r)
    _collect_names(writer, names_w)
    r: dict[str, tuple] = {}
    w: dict[str, tuple] = {}
    _leaf_types(reader, label, names_r, r)
    _leaf_types(writer, label, names_w, w)
    out = []
    for path in sorted(set(r) & set(w)):
        if (r[path][1] or w[path][1]) and r[path][1:] != w[path][1:]:
            out.append(
                f"{path.replace('<', ' (').replace('>', ')')}: writer type {_describe_leaf(w[path])} "
                f"would be read as {_describe_leaf(r[path])} (a logical type must not change: "
                "the value would be misread)"
            )
    return out


def reading_problems(reader: dict, writer: dict) -> list[str]:
    """Why data written with ``writer`` cannot be read with ``reader``, field by field; empty when it can."""
    label = reader.get("name", "record").rsplit(".", 1)[-1]
    r, w = _parse(reader), _parse(writer)
    checker = ReaderWriterCompatibilityChecker()
    out: list[str] = []
    if r.type != "record" or w.type != "record":
        result = checker.get_compatibility(r, w)
        if result.compatibility is SchemaCompatibilityType.incompatible:
            out.append(f"{label}: " + "; ".join(sorted(result.messages)))
        return out
    if not schema_name_equals(r, w):
        out.append(f"{label}: writer record {w.fullname} is not {r.fullname}")
    for i, rf in enumerate(r.fields):
        path = f"{label}.{rf.name}"
        wf = lookup_writer_field(w, rf)
        if wf is None:
            if not rf.has_default:
                out.append(f"{path}: missing from the writer schema, and the reader has no default for it")
            continue
        result = checker.get_compatibility(rf.type, wf.type)
        if result.compatibility is SchemaCompatibilityType.incompatible:
            locations = sorted(loc for loc in result.locations if loc.strip("/"))
            where = _path(reader["fields"][i]["type"], locations[0].split("/"), path) if len(locations) == 1 else path
            out.append(f"{where}: {_explain(result)}")
    out.extend(logical_type_problems(reader, writer, label))
    return out


def _explain(result: Any) -> str:
    kinds = {k.name for k in result.incompatibilities}
    messages = sorted(result.messages)
    if kinds == {"missing_enum_symbols"}:
        return "the writer's enum has symbol(s) the reader lacks: " + "; ".join(messages)
    if kinds == {"reader_field_missing_default_value"}:
        return "the writer lacks field(s) the reader needs without default: " + ", ".join(messages)
    if kinds == {"name_mismatch"}:
        return "named type differs: " + "; ".join(messages)
    return "; ".join(messages)


def full_transitive_problems(new: dict, previous: list[tuple[int, dict]]) -> list[str]:
    """FULL_TRANSITIVE: the new schema reads every released version and every one reads it."""
    out = []
    if previous and full_name(new) != full_name(previous[-1][1]):
        return [f"renamed from {full_name(previous[-1][1])} to {full_name(new)} (a rename is a new schema)"]
    for version, old in previous:
        for p in reading_problems(new, old):
            out.append(f"new cannot read v{version}: {p}")
        for p in reading_problems(old, new):
            out.append(f"v{version} cannot read new: {p}")
    return out


def canonical(doc: dict) -> str:
    """Parsing Canonical Form: what the fingerprint covers (docs and defaults excluded)."""
    import fastavro
    from fastavro.schema import to_parsing_canonical_form

    return to_parsing_canonical_form(fastavro.parse_schema(doc, named_schemas={}))


def event_version_default(doc: dict) -> int | None:
    for f in doc.get("fields", []):
        if f["name"] == "event_version":
            return f.get("default")
    return None


def check_contract(root: Path | None = None) -> dict[str, list[str]]:
    """Every schema in ``avro/`` against its released history: problems per schema name."""
    raw, released = load_schemas(root)
    report: dict[str, list[str]] = {}
    for name, doc in sorted(raw.items()):
        problems: list[str] = []
        history = released.get(name, [])
        if not history:
            problems.append("no released version: run `python -m jackpot.streams.registry release` to record v1")
        else:
            problems.extend(full_transitive_problems(doc, history))
            latest_v, latest = history[-1]
            want = latest_v if canonical(doc) == canonical(latest) else latest_v + 1
            have = event_version_default(doc)
            if have != want:
                state = "unchanged since" if want == latest_v else "changed since"
                problems.append(f"event_version default is {have}, expected {want} ({state} released v{latest_v})")
        report[name] = problems
    for name in sorted(set(released) - set(raw)):
        report[name] = ["released but removed from avro/: a schema is retired only with every consumer"]
    return report


def release(root: Path | None = None) -> list[Path]:
    """Snapshot each schema that changed since its latest release as ``released/<Name>/v<N+1>.avsc``.

    Refuses (and writes nothing) when any schema fails :func:`check_contract` for a reason
    other than not being released yet.
    """
    base = root or avro_root()
    raw, released = load_schemas(base)
    blocking = {}
    for name, doc in raw.items():
        history = released.get(name, [])
        problems = full_transitive_problems(doc, history) if history else []
        want = (
            history[-1][0]
            if history and canonical(doc) == canonical(history[-1][1])
            else (history[-1][0] + 1 if history else 1)
        )
        if event_version_default(doc) != want:
            problems.append(f"set event_version's default to {want} before releasing")
        if problems:
            blocking[name] = problems
    if blocking:
        raise SystemExit("not released:\n" + "\n".join(f"  {n}: {p}" for n, ps in blocking.items() for p in ps))
    written = []
    files = {p.name[:-5]: p for p in base.glob("*.avsc")}
    for name, doc in sorted(raw.items()):
        history = released.get(name, [])
        if history and canonical(doc) == canonical(history[-1][1]):
            continue
        version = history[-1][0] + 1 if history else 1
        target = base / "released" / name / f"v{version}.avsc"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[name], target)
        written.append(target)
    return written


# ------------------------------------------------------------------ client
class SchemaRegistry:
    """A Confluent-compatible schema registry (RecordNameStrategy subjects, FULL_TRANSITIVE)."""

    def __init__(self, url: str, timeout: float = 5.0, compatibility: str = COMPATIBILITY) -> None:
        import httpx
        from schema_registry.client import SchemaRegistryClient

        self.url = url.rstrip("/")
        self.compatibility = compatibility
        self.client = SchemaRegistryClient(url=self.url, timeout=httpx.Timeout(timeout))

    @staticmethod
    def subject(doc: dict) -> str:
        return full_name(doc)

    def _call(self, what: str, fn, *args, **kwargs):
        import httpx
        from schema_registry.client.errors import ClientError

        try:
            return fn(*args, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"schema registry {self.url}: {what}: {type(exc).__name__}: {exc}") from exc
        except ClientError as exc:
            detail = exc.server_traceback
            if isinstance(detail, dict):
                detail = detail.get("message") or detail
            if exc.http_code is not None and exc.http_code >= 500:
                raise RegistryUnavailable(
                    f"schema registry {self.url}: {what}: HTTP {exc.http_code}: {detail}"
                ) from exc
            raise RegistryRefused(
                f"schema registry {self.url}: {what}: {exc.message} (HTTP {exc.http_code}): {detail}"
            ) from exc

    def lookup(self, doc: dict) -> int | None:
        """The id of this exact schema under its subject, or None when not registered."""
        found = self._call(f"look up {self.subject(doc)}", self.client.check_version, self.subject(doc), doc)
        return None if found is None else int(found.schema_id)

    def ensure(self, doc: dict, register: bool = True) -> int:
        """The schema's id: looked up, or registered (under FULL_TRANSITIVE) when missing."""
        subject = self.subject(doc)
        found = self.lookup(doc)
        if found is not None:
            return found
        if not register:
            raise RegistryRefused(
                f"schema registry {self.url}: {subject} is not registered and "
                "auto-registration is off (register it from CI)"
            )
        if not self.versions(subject):
            self.set_compatibility(subject, self.compatibility)
        return int(self._call(f"register {subject}", self.client.register, subject, doc))

    def register(self, doc: dict, subject: str | None = None) -> int:
        subject = subject or self.subject(doc)
        return int(self._call(f"register {subject}", self.client.register, subject, doc))

    def versions(self, subject: str) -> list[int]:
        return list(self._call(f"versions of {subject}", self.client.get_versions, subject) or [])

    def schema_by_id(self, schema_id: int) -> dict | None:
        """The writer schema registered under ``schema_id`` (parsed JSON), or None when unknown."""
        found = self._call(f"schema id {schema_id}", self.client.get_by_id, schema_id)
        return None if found is None else found.raw_schema

    def set_compatibility(self, subject: str | None, level: str) -> None:
        self._call(
            f"set compatibility of {subject or 'the registry'}", self.client.update_compatibility, level, subject
        )

    def get_compatibility(self, subject: str | None = None) -> str | None:
        return self._call("get compatibility", self.client.get_compatibility, subject)

    def is_compatible(self, doc: dict, subject: str | None = None, version: int | str = "latest") -> bool:
        """The registry's own verdict on a candidate schema (its compatibility endpoint)."""
        subject = subject or self.subject(doc)
        return bool(
            self._call(
                f"test compatibility of {subject}", self.client.test_compatibility, subject, doc, version=version
            )
        )

    def delete_subject(self, subject: str) -> None:
        self._call(f"delete {subject}", self.client.delete_subject, subject)


def register_all(url: str, register: bool = True) -> dict[str, int]:
    """Register (or look up) every schema in ``avro/``; returns subject -> id. For CI/deploys."""
    raw, _ = load_schemas()
    reg = SchemaRegistry(url)
    return {reg.subject(doc): reg.ensure(doc, register=register) for _, doc in sorted(raw.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jackpot.streams.registry", description="Check, release and register the Avro contract."
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="every schema in avro/ against its released versions (FULL_TRANSITIVE)")
    sub.add_parser("release", help="snapshot changed schemas into avro/released/<Name>/v<N>.avsc")
    reg = sub.add_parser("register", help="register every schema with a schema registry")
    reg.add_argument("--url", required=True, help="registry base URL, e.g. http://127.0.0.1:18081/apis/ccompat/v7")
    args = parser.parse_args(argv)
    if args.cmd == "check":
        report = check_contract()
        bad = {n: ps for n, ps in report.items() if ps}
        for name, problems in sorted(report.items()):
            print(f"{'FAIL' if problems else 'ok  '} {name}")
            for p in problems:
                print(f"       {p}")
        return 1 if bad else 0
    if args.cmd == "release":
        written = release()
        print("\n".join(str(p) for p in written) if written else "nothing changed since the last release")
        return 0
    ids = register_all(args.url)
    for subject, schema_id in ids.items():
        print(f"{schema_id:>6}  {subject}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
