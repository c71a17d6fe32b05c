"""The Back Office record of each jackpot in PostgreSQL, and its published configuration versions.

``admin_jackpots`` holds the wizard steps, presentation and lifecycle of every jackpot (drafts
included). A validated configuration is recorded as a version in ``jackpot_config_versions``
(the source of truth the reports read) by ``publication.py``, which every publisher shares.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from .problems import Problem, not_found


@dataclass
class JackpotRecord:
    jackpot_id: str
    name: str
    type: str | None
    brands: list[str]
    status: str
    steps: dict[str, Any]
    presentation: dict[str, Any]
    template: str | None
    cloned_from: str | None
    activate_at: dt.datetime | None
    published_version: int | None
    revision: int
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> "JackpotRecord":
        d = dict(r)
        d["steps"] = _json(d["steps"])
        d["presentation"] = _json(d["presentation"])
        d["brands"] = list(d["brands"])
        return cls(**d)

    def snapshot(self) -> dict[str, Any]:
        """What the audit trail keeps as before/after."""
        return {"status": self.status, "name": self.name, "brands": self.brands, "steps": self.steps,
                "presentation": self.presentation, "revision": self.revision,
                "published_version": self.published_version,
                "activate_at": self.activate_at.isoformat() if self.activate_at else None}


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


COLUMNS = ("jackpot_id, name, type, brands, status, steps, presentation, template, cloned_from, activate_at, "
           "published_version, revision, created_at, created_by, updated_at, updated_by")


class JackpotStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, jackpot_id: str, conn: asyncpg.Connection | None = None, *, lock: bool = False) -> JackpotRecord:
        q = f"SELECT {COLUMNS} FROM admin_jackpots WHERE jackpot_id = $1" + (" FOR UPDATE" if lock else "")
        row = await (conn or self.pool).fetchrow(q, jackpot_id)
        if row is None:
            raise not_found(f"jackpot {jackpot_id}")
        return JackpotRecord.from_row(row)

    async def list(self, *, statuses: list[str] | None = None) -> list[JackpotRecord]:
        rows = await self.pool.fetch(
            f"SELECT {COLUMNS} FROM admin_jackpots WHERE ($1::text[] IS NULL OR status = ANY($1)) "
            "ORDER BY created_at DESC", statuses)
        return [JackpotRecord.from_row(r) for r in rows]

    async def insert(self, conn: asyncpg.Connection, *, jackpot_id: str, name: str, type_: str | None,
                     brands: list[str], steps: dict[str, Any], presentation: dict[str, Any], actor: str,
                     template: str | None = None, cloned_from: str | None = None) -> JackpotRecord:
        try:
            row = await conn.fetchrow(
                f"INSERT INTO admin_jackpots (jackpot_id, name, type, brands, status, steps, presentation, template, "
                f"cloned_from, created_by, updated_by) VALUES ($1, $2, $3, $4, 'DRAFT', $5, $6, $7, $8, $9, $9) "
                f"RETURNING {COLUMNS}",
                jackpot_id, name, type_, brands, json.dumps(steps), json.dumps(presentation), template, cloned_from,
                actor)
        except asyncpg.UniqueViolationError:
            raise Problem(409, "already-exists", f"jackpot {jackpot_id} already exists") from None
        return JackpotRecord.from_row(row)

    async def update(self, conn: asyncpg.Connection, rec: JackpotRecord, actor: str, **changes: Any) -> JackpotRecord:
        sets, args = [], [rec.jackpot_id]
        for col, value in changes.items():
            if col in ("steps", "presentation"):
                value = json.dumps(value)
            args.append(value)
            sets.append(f"{col} = ${len(args)}")
        args.append(actor)
        sets.append(f"updated_by = ${len(args)}")
        row = await conn.fetchrow(
            f"UPDATE admin_jackpots SET {', '.join(sets)}, revision = revision + 1, updated_at = now() "
            f"WHERE jackpot_id = $1 RETURNING {COLUMNS}", *args)
        return JackpotRecord.from_row(row)

    # ----------------------------------------------------------- versions
    async def current_config(self, jackpot_id: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval(
            "SELECT v.config FROM jackpot_configs c JOIN jackpot_config_versions v "
            "ON v.jackpot_id = c.jackpot_id AND v.version = c.current_version WHERE c.jackpot_id = $1", jackpot_id)
        return None if doc is None else _json(doc)

    async def versions(self, jackpot_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT version, config_hash, status, received_at FROM jackpot_config_versions WHERE jackpot_id = $1 "
            "ORDER BY version DESC", jackpot_id)
        return [dict(r) for r in rows]

    # ----------------------------------------------------------- changes with apply timing
    async def add_change(self, conn: asyncpg.Connection, *, change_id: str, jackpot_id: str, timing: str,
                         apply_at: dt.datetime | None, state: str, config: dict[str, Any], warnings: list[dict],
                         reason: str | None, actor: str, version: int | None = None,
                         applied_at: dt.datetime | None = None) -> None:
        await conn.execute(
            "INSERT INTO admin_config_changes (change_id, jackpot_id, apply_timing, apply_at, state, config, warnings, "
            "reason, created_by, version, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            change_id, jackpot_id, timing, apply_at, state, json.dumps(config, default=str), json.dumps(warnings),
            reason, actor, version, applied_at)

    async def changes(self, jackpot_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT change_id, apply_timing, apply_at, state, warnings, reason, version, detail, created_at, "
            "created_by, applied_at FROM admin_config_changes WHERE jackpot_id = $1 ORDER BY created_at DESC",
            jackpot_id)
        out = []
        for r in rows:
            d = dict(r)
            d["change_id"] = str(d["change_id"])
            d["warnings"] = _json(d["warnings"])
            out.append(d)
        return out

    async def claim_change(self, conn: asyncpg.Connection, change_id: Any) -> dict[str, Any] | None:
        """Lock one pending change for this transaction (None if gone or locked by another process)."""
        r = await conn.fetchrow(
            "SELECT change_id, jackpot_id, apply_timing, config FROM admin_config_changes "
            "WHERE change_id = $1 AND state = 'pending' FOR UPDATE SKIP LOCKED", change_id)
        return None if r is None else {**dict(r), "config": _json(r["config"])}
