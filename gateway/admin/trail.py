"""Admin actions in the hash-chained audit trail (``sinks.audit``).

Every mutating call appends one ``AdminAction`` record with the actor, role, brand scope,
before and after, reason and request id; a refused call (missing permission) appends an
``AdminAccessDenied`` record, so probing is visible too. Records written inside the caller's
transaction commit together with the change they describe. ``checkpointer`` publishes signed
checkpoints of the chain's head from the admin process (``sinks.checkpoints``), so a cut of the
records this API appended is caught even when no sink runs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import asyncpg

from jackpot.sinks import audit
from jackpot.sinks.checkpoints import Checkpointer, producer_send

from .rbac import Principal

SYSTEM_SCOPE = "system"


def checkpointer(settings: Any, pool: asyncpg.Pool, producer: Any) -> Checkpointer:
    """The admin process's checkpointer, started, over its pool and producer (stop it at shutdown)."""
    cp = Checkpointer(settings, producer_send(settings, producer), pool)
    cp.start()
    return cp


class Trail:
    def __init__(self, pool: asyncpg.Pool, key: str | None) -> None:
        self.pool = pool
        self.key = audit.key_bytes(key)

    async def record(self, principal: Principal, *, action: str, jackpot_id: str | None, request_id: str,
                     reason: str | None = None, before: Any = None, after: Any = None,
                     detail: dict[str, Any] | None = None, conn: asyncpg.Connection | None = None,
                     event_type: str = "AdminAction") -> str:
        event_id = str(uuid.uuid4())
        body = {
            "action": action,
            "actor": principal.actor,
            "role": principal.role.value,
            "brand": principal.brand_label(),
            "token_id": principal.token_id,
            "jackpot_id": jackpot_id,
            "reason": reason,
            "before": before,
            "after": after,
            "request_id": request_id,
            **(detail or {}),
        }
        entry = audit.Entry(event_id, event_type, jackpot_id or SYSTEM_SCOPE, principal.actor,
                            int(time.time() * 1000), body)
        if conn is not None:
            await audit.append(conn, [entry], key=self.key, in_transaction=conn.is_in_transaction())
        else:
            async with self.pool.acquire() as c:
                await audit.append(c, [entry], key=self.key)
        return event_id

    async def denied(self, principal: Principal, op: Any, request_id: str, path: str, *, reason: str) -> None:
        """A refused mutating call: missing permission, brand outside the scope, or four-eyes violation."""
        await self.record(principal, action=op.operation_id, jackpot_id=None, request_id=request_id, reason=reason,
                          detail={"path": path, "permission": op.permission.value if op.permission else None},
                          event_type="AdminAccessDenied")

    async def entries(self, *, jackpot_id: str | None, event_type: str | None, limit: int,
                      before_seq: int | None) -> list[dict]:
        rows = await self.pool.fetch(
            "SELECT seq, event_id, event_type, jackpot_id, actor, occurred_at, body, hash FROM audit_log "
            "WHERE ($1::text IS NULL OR jackpot_id = $1) AND ($2::text IS NULL OR event_type = $2) "
            "AND ($3::bigint IS NULL OR seq < $3) ORDER BY seq DESC LIMIT $4",
            jackpot_id, event_type, before_seq, limit)
        return [dict(r) for r in rows]
