"""Idempotency keys on mutating calls (``Idempotency-Key`` header, scoped per person).

The first request with a key claims it (a row with no status yet), runs, and stores its
response. A repeat with the same method, path and body gets the stored response
(``Idempotent-Replayed: true``); a repeat with anything else is a 409, as is a repeat that
arrives while the first is still running. A request that fails unexpectedly releases its key,
so the client can retry it.

A replay runs no handler, so it skips the handler's brand checks: keys are per person (another
person's key is another key), and a stored answer is replayed only to a credential whose brand
scope covers the scope of the credential that produced it; otherwise a 403 brand-scope problem.
The route's permission is checked before any of this (api.py).
"""

from __future__ import annotations

import json
from typing import Awaitable, Callable

import asyncpg
from aiohttp import web

from .problems import Problem
from .rbac import Principal


class IdempotencyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def run(self, principal: Principal, key: str, method: str, path: str, body_hash: str,
                  call: Callable[[], Awaitable[web.Response]]) -> web.Response:
        actor = principal.actor
        claimed = await self.pool.fetchval(
            "INSERT INTO admin_idempotency (actor, idempotency_key, method, path, body_hash, credential, brands, "
            "all_brands) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING true",
            actor, key, method, path, body_hash, principal.credential, sorted(principal.brands), principal.all_brands)
        if not claimed:
            row = await self.pool.fetchrow(
                "SELECT method, path, body_hash, status, response, brands, all_brands FROM admin_idempotency "
                "WHERE actor = $1 AND idempotency_key = $2", actor, key)
            if row is None:  # released in the meantime: run as a fresh request
                return await self.run(principal, key, method, path, body_hash, call)
            if not principal.covers(row["brands"], row["all_brands"]):
                raise Problem(403, "brand-scope", "this Idempotency-Key was used by a credential with brands outside "
                              "this token's scope: its answer is not replayed to it; use a new key")
            if (row["method"], row["path"], row["body_hash"]) != (method, path, body_hash):
                raise Problem(409, "idempotency-key-reused",
                              "this Idempotency-Key was used with a different request; use a new key")
            if row["status"] is None:
                raise Problem(409, "idempotency-key-in-progress",
                              "a request with this Idempotency-Key is still being processed; retry shortly")
            stored = json.loads(row["response"])
            return web.Response(status=row["status"], text=stored["body"], content_type=stored["content_type"],
                                headers={"Idempotent-Replayed": "true"})
        try:
            resp = await call()
        except Problem as p:
            if p.status >= 500:
                await self._release(actor, key)
                raise
            await self._store(actor, key, p.status, json.dumps(p.body(path, "")), "application/problem+json")
            raise
        except BaseException:
            await self._release(actor, key)
            raise
        await self._store(actor, key, resp.status, resp.text or "", resp.content_type)
        return resp

    async def _store(self, actor: str, key: str, status: int, body: str, content_type: str) -> None:
        await self.pool.execute(
            "UPDATE admin_idempotency SET status = $3, response = $4 WHERE actor = $1 AND idempotency_key = $2",
            actor, key, status, json.dumps({"body": body, "content_type": content_type}))

    async def _release(self, actor: str, key: str) -> None:
        await self.pool.execute("DELETE FROM admin_idempotency WHERE actor = $1 AND idempotency_key = $2", actor, key)
