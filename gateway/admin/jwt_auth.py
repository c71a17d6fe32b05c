"""Optional JWTs from the operator's identity provider, beside the CLI-issued tokens.

When ``JACKPOT_ADMIN_JWT_ISSUER`` is set, a bearer token that is not one of ours (``jpa_``) is
verified as a JWT: signature (the IdP's JWKS, or a configured public key), issuer, audience and
expiry are all required; ``alg=none`` and symmetric algorithms are refused. The claims ``role``,
``brands`` (or ``all_brands``) and, for the custom role, ``permissions`` decide the grant; the
identity (issuer, ``sub``) is not a person by itself: the token store maps it to the person it
was enrolled to (``jackpot admin identity link``) and refuses it otherwise. Revocation is the
IdP's business: keep token lifetimes short.

JWKS: the key set is cached (``lifespan``), and an unknown ``kid`` refetches it at most once per
``JACKPOT_ADMIN_JWT_JWKS_MIN_REFETCH_S``, failed fetches included, so a stream of tokens with
made-up kids (or an IdP outage) cannot turn every request into a call to the IdP.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import jwt

from jackpot.settings import Settings

from .problems import Problem
from .rbac import Permission, Principal, Role

ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="jackpot-admin"'})


@dataclass(frozen=True, slots=True)
class JwtGrant:
    """A verified JWT: who the IdP says it is (issuer, subject) and what it grants."""

    issuer: str
    subject: str
    role: Role
    brands: frozenset[str]
    all_brands: bool
    permissions: frozenset[Permission]

    @property
    def credential(self) -> str:
        return f"jwt:{self.issuer}#{self.subject}"

    def principal(self, person: str) -> Principal:
        return Principal(token_id=self.credential, actor=person, role=self.role, brands=self.brands,
                         all_brands=self.all_brands, custom_permissions=self.permissions)


class JwksKeys:
    """The IdP's signing keys by ``kid``, with a floor on how often the set is fetched."""

    def __init__(self, url: str, *, min_refetch_s: float, lifespan_s: float = 300, timeout_s: float = 5) -> None:
        self.client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=lifespan_s, timeout=timeout_s)
        self.min_refetch_s = min_refetch_s
        self._last_attempt: float | None = None
        self._lock = threading.Lock()

    def _may_fetch(self) -> bool:
        now = time.monotonic()
        if self._last_attempt is not None and now - self._last_attempt < self.min_refetch_s:
            return False
        self._last_attempt = now
        return True

    def key(self, token: str):
        """The signing key of ``token`` (blocking: call it off the event loop)."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str) or not kid:
            raise jwt.InvalidTokenError("the token has no kid header")
        with self._lock:
            cached = self.client.jwk_set_cache.get() if self.client.jwk_set_cache is not None else None
            if cached is None:  # first use, or the cached set expired: one fetch per interval at most
                if not self._may_fetch():
                    raise jwt.PyJWKClientError("the key set is unavailable; retry shortly")
                keys = self.client.get_signing_keys(refresh=True)
            else:
                keys = [k for k in cached.keys if k.public_key_use in ("sig", None) and k.key_id]
            found = self.client.match_kid(keys, kid)
            if found is None and self._may_fetch():  # perhaps a rotated key: refresh, bounded
                found = self.client.match_kid(self.client.get_signing_keys(refresh=True), kid)
            if found is None:
                raise jwt.PyJWKClientError(f"no signing key {kid!r} in the identity provider's key set")
            return found.key


class JwtVerifier:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.admin_jwt_issuer
        self.audience = settings.admin_jwt_audience
        self.algorithms = [a.strip() for a in settings.admin_jwt_algorithms.split(",") if a.strip()]
        bad = [a for a in self.algorithms if a not in ASYMMETRIC]
        if bad or not self.algorithms:
            raise ValueError(f"JWT algorithms must be asymmetric ({', '.join(sorted(ASYMMETRIC))}), not {bad}")
        self.public_key = settings.admin_jwt_public_key or None
        self.jwks = JwksKeys(settings.admin_jwt_jwks_url, min_refetch_s=settings.admin_jwt_jwks_min_refetch_s) \
            if settings.admin_jwt_jwks_url else None
        if not (self.public_key or self.jwks):
            raise ValueError("JWT needs JACKPOT_ADMIN_JWT_JWKS_URL or JACKPOT_ADMIN_JWT_PUBLIC_KEY")

    async def verify(self, token: str) -> JwtGrant:
        """The verified grant of a JWT (401 problem otherwise); the caller maps it to a person."""
        try:
            if self.jwks is not None:  # the JWKS client does blocking HTTP (cached): keep it off the loop
                key = await asyncio.to_thread(self.jwks.key, token)
            else:
                key = self.public_key
            claims = jwt.decode(token, key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                                options={"require": ["exp", "iss", "aud", "sub"]})
        except (jwt.PyJWTError, ValueError) as exc:
            raise _unauthorized(f"invalid token: {exc}") from None
        try:
            role = Role(str(claims.get("role", "")))
        except ValueError:
            raise _unauthorized("the token's role claim is missing or unknown") from None
        brands = claims.get("brands") or []
        all_brands = claims.get("all_brands") is True
        if not isinstance(brands, list) or not all(isinstance(b, str) and b for b in brands):
            raise _unauthorized("the token's brands claim must be a list of brand ids")
        if not brands and not all_brands:
            raise _unauthorized("the token grants no brand")
        perms: frozenset[Permission] = frozenset()
        if role == Role.CUSTOM:
            try:
                perms = frozenset(Permission(p) for p in claims.get("permissions") or [])
            except ValueError:
                raise _unauthorized("the token's permissions claim has an unknown permission") from None
        return JwtGrant(issuer=str(claims["iss"]), subject=str(claims["sub"]), role=role, brands=frozenset(brands),
                        all_brands=all_brands, permissions=perms)
