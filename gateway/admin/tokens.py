"""Bearer tokens: random secrets shown once, stored only as their SHA-256 hash.

A token is 32 bytes from the OS CSPRNG (``secrets``), so a fast hash is enough: there is no
password to guess, and a lookup by hash needs no per-row salt. The ``jpa_`` prefix makes a
leaked token easy to spot in logs and scanners. Revocation and expiry take effect on the next
request: every call looks the token up (one indexed read).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from .problems import Problem
from .rbac import Permission, Principal, Role

if TYPE_CHECKING:
    from .jwt_auth import JwtVerifier

PREFIX = "jpa_"


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    secret: str
    principal: Principal


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="jackpot-admin"'})


class TokenStore:
    def __init__(self, pool: asyncpg.Pool, jwt_verifier: "JwtVerifier | None" = None) -> None:
        self.pool = pool
        self.jwt = jwt_verifier

    async def create(self, *, actor: str, role: Role, brands: list[str], all_brands: bool = False,
                     permissions: list[Permission] | None = None, created_by: str = "cli",
                     expires_at: dt.datetime | None = None, note: str | None = None) -> IssuedToken:
        if not actor.strip():
            raise ValueError("a token needs an actor")
        if not all_brands and not brands:
            raise ValueError("a token needs at least one brand, or all_brands")
        if role == Role.CUSTOM and not permissions:
            raise ValueError("a custom-role token needs at least one permission")
        if role != Role.CUSTOM and permissions:
            raise ValueError("permissions are only for the custom role; the other roles have fixed permissions")
        token_id = str(uuid.uuid4())
        secret = new_secret()
        perms = sorted(p.value for p in (permissions or []))
        await self.pool.execute(
            "INSERT INTO admin_tokens (token_id, token_hash, actor, role, brands, all_brands, permissions, note, "
            "created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            uuid.UUID(token_id), hash_token(secret), actor, role.value, sorted(set(brands)), all_brands, perms,
            note, created_by, expires_at)
        principal = Principal(token_id, actor, role, frozenset(brands), all_brands,
                              frozenset(Permission(p) for p in perms))
        return IssuedToken(token_id, secret, principal)

    async def revoke(self, token_id: str, *, revoked_by: str = "cli") -> bool:
        try:
            tid = uuid.UUID(token_id)
        except ValueError:
            return False
        done = await self.pool.execute(
            "UPDATE admin_tokens SET revoked_at = now(), revoked_by = $2 WHERE token_id = $1 AND revoked_at IS NULL",
            tid, revoked_by)
        return done.endswith(" 1")

    async def list(self) -> list[dict]:
        rows = await self.pool.fetch(
            "SELECT token_id, actor, role, brands, all_brands, permissions, created_at, created_by, expires_at, "
            "revoked_at FROM admin_tokens ORDER BY created_at")
        return [dict(r) for r in rows]

    async def authenticate(self, header: str | None) -> Principal:
        if not header:
            raise _unauthorized("send Authorization: Bearer <token>")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        secret = secret.strip()
        if self.jwt is not None and not secret.startswith(PREFIX) and secret.count(".") == 2:
            return await self.jwt.principal(secret)
        row = await self.pool.fetchrow(
            "SELECT token_id, actor, role, brands, all_brands, permissions, expires_at, revoked_at "
            "FROM admin_tokens WHERE token_hash = $1", hash_token(secret))
        if row is None:
            raise _unauthorized("unknown token")
        if row["revoked_at"] is not None:
            raise _unauthorized("this token was revoked")
        if row["expires_at"] is not None and row["expires_at"] <= dt.datetime.now(dt.timezone.utc):
            raise _unauthorized("this token has expired")
        return Principal(
            token_id=str(row["token_id"]), actor=row["actor"], role=Role(row["role"]),
            brands=frozenset(row["brands"]), all_brands=row["all_brands"],
            custom_permissions=frozenset(Permission(p) for p in row["permissions"] if p in Permission._value2member_map_),
        )
