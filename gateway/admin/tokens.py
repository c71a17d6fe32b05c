"""Bearer tokens: random secrets shown once, stored only as their SHA-256 hash.

A token is 32 bytes from the OS CSPRNG (``secrets``), so a fast hash is enough: there is no
password to guess, and a lookup by hash needs no per-row salt. The ``jpa_`` prefix makes a
leaked token easy to spot in logs and scanners. Revocation and expiry take effect on the next
request: every call looks the token up (one indexed read).

People, not credentials, are compared (four-eyes, self-revoke): a token is issued to a person
(its ``actor``, canonical form), and an identity-provider identity is enrolled to a person with
``link``; a JWT whose identity is not enrolled is refused, so a human's IdP login and their CLI
token are one person. The CLI's token and enrolment changes are written to the audit trail.
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
from .rbac import Permission, Principal, Role, person_id

if TYPE_CHECKING:
    from .jwt_auth import JwtVerifier
    from .trail import Trail

PREFIX = "jpa_"


def hash_token(secret: str) -> str:
    # surrogateescape: a header's undecodable bytes (aiohttp keeps them as lone surrogates) hash
    # to a digest no token has, so the caller gets its 401 instead of a 500
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


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
    def __init__(self, pool: asyncpg.Pool, jwt_verifier: "JwtVerifier | None" = None,
                 trail: "Trail | None" = None) -> None:
        self.pool = pool
        self.jwt = jwt_verifier
        self.trail = trail  # set by the CLI: its changes are audited here (the API audits its own)

    async def _audit(self, conn: asyncpg.Connection, by: Principal | None, action: str, *, before=None,
                     after=None, reason: str | None = None) -> None:
        if self.trail is not None and by is not None:
            await self.trail.record(by, action=action, jackpot_id=None, request_id=f"cli-{uuid.uuid4()}",
                                    reason=reason, before=before, after=after, detail={"via": "cli"}, conn=conn)

    async def create(self, *, actor: str, role: Role, brands: list[str], all_brands: bool = False,
                     permissions: list[Permission] | None = None, created_by: str = "cli",
                     expires_at: dt.datetime | None = None, note: str | None = None,
                     by: Principal | None = None) -> IssuedToken:
        """Issue a token to the person ``actor`` (canonicalised: see ``rbac.person_id``)."""
        if not actor.strip():
            raise ValueError("a token needs an actor")
        actor = person_id(actor)
        if not all_brands and not brands:
            raise ValueError("a token needs at least one brand, or all_brands")
        if role == Role.CUSTOM and not permissions:
            raise ValueError("a custom-role token needs at least one permission")
        if role != Role.CUSTOM and permissions:
            raise ValueError("permissions are only for the custom role; the other roles have fixed permissions")
        token_id = str(uuid.uuid4())
        secret = new_secret()
        perms = sorted(p.value for p in (permissions or []))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO admin_tokens (token_id, token_hash, actor, role, brands, all_brands, permissions, note, "
                "created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                uuid.UUID(token_id), hash_token(secret), actor, role.value, sorted(set(brands)), all_brands, perms,
                note, created_by, expires_at)
            await self._audit(conn, by, "create_token", after={
                "token_id": token_id, "person": actor, "role": role.value, "brands": sorted(set(brands)),
                "all_brands": all_brands, "permissions": perms, "note": note,
                "expires_at": expires_at.isoformat() if expires_at else None})
        principal = Principal(token_id, actor, role, frozenset(brands), all_brands,
                              frozenset(Permission(p) for p in perms))
        return IssuedToken(token_id, secret, principal)

    async def revoke(self, token_id: str, *, revoked_by: str = "cli", by: Principal | None = None,
                     reason: str | None = None) -> bool:
        try:
            tid = uuid.UUID(token_id)
        except ValueError:
            return False
        async with self.pool.acquire() as conn, conn.transaction():
            person = await conn.fetchval(
                "UPDATE admin_tokens SET revoked_at = now(), revoked_by = $2 WHERE token_id = $1 AND revoked_at IS NULL "
                "RETURNING actor", tid, revoked_by)
            if person is None:
                return False
            await self._audit(conn, by, "revoke_token", reason=reason,
                              after={"token_id": token_id, "person": person, "revoked": True})
        return True

    async def owner(self, token_id: str) -> str | None:
        """The person a token was issued to (None: no such token)."""
        return await self.pool.fetchval("SELECT actor FROM admin_tokens WHERE token_id = $1", uuid.UUID(token_id))

    # ------------------------------------------------------------------ identity-provider enrolment
    async def link(self, *, issuer: str, subject: str, person: str, by: Principal | None = None) -> dict:
        """Enrol the IdP identity (issuer, subject) as ``person``. One subject per person and issuer;
        an identity already enrolled to another person must be unlinked first (ValueError)."""
        if not issuer.strip() or not subject.strip():
            raise ValueError("an identity needs an issuer and a subject")
        person = person_id(person)
        linked_by = by.actor if by is not None else "cli"
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(
                "SELECT person FROM admin_identities WHERE issuer = $1 AND subject = $2 FOR UPDATE", issuer, subject)
            if current is not None:
                if current["person"] != person:
                    raise ValueError(f"subject {subject} of {issuer} is enrolled as {current['person']}; unlink it first")
                return {"issuer": issuer, "subject": subject, "person": person, "created": False}
            other = await conn.fetchval(
                "SELECT subject FROM admin_identities WHERE issuer = $1 AND person = $2", issuer, person)
            if other is not None:
                raise ValueError(f"{person} is already enrolled at {issuer} as subject {other}: one subject per "
                                 "person and issuer (unlink the other first)")
            await conn.execute(
                "INSERT INTO admin_identities (issuer, subject, person, linked_by) VALUES ($1, $2, $3, $4)",
                issuer, subject, person, linked_by)
            await self._audit(conn, by, "link_identity", after={"issuer": issuer, "subject": subject, "person": person})
        return {"issuer": issuer, "subject": subject, "person": person, "created": True}

    async def unlink(self, *, issuer: str, subject: str, by: Principal | None = None) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            person = await conn.fetchval(
                "DELETE FROM admin_identities WHERE issuer = $1 AND subject = $2 RETURNING person", issuer, subject)
            if person is None:
                return False
            await self._audit(conn, by, "unlink_identity",
                              before={"issuer": issuer, "subject": subject, "person": person})
        return True

    async def identities(self) -> list[dict]:
        rows = await self.pool.fetch(
            "SELECT issuer, subject, person, linked_at, linked_by FROM admin_identities ORDER BY issuer, person")
        return [dict(r) for r in rows]

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
        if not secret.isascii() or not secret.isprintable():  # tokens and JWTs are printable ASCII
            raise _unauthorized("unknown token")
        if self.jwt is not None and not secret.startswith(PREFIX) and secret.count(".") == 2:
            grant = await self.jwt.verify(secret)
            person = await self.pool.fetchval(
                "SELECT person FROM admin_identities WHERE issuer = $1 AND subject = $2", grant.issuer, grant.subject)
            if person is None:
                raise _unauthorized(
                    f"identity {grant.subject} of {grant.issuer} is not enrolled to a person: an administrator "
                    f"enrols it with `jackpot admin identity link --issuer {grant.issuer} --subject {grant.subject} "
                    f"--person <person id>`")
            return grant.principal(person)
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
