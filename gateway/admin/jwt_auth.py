"""Optional JWTs from the operator's identity provider, beside the CLI-issued tokens.

When ``JACKPOT_ADMIN_JWT_ISSUER`` is set, a bearer token that is not one of ours (``jpa_``) is
verified as a JWT: signature (the IdP's JWKS, or a configured public key), issuer, audience and
expiry are all required; ``alg=none`` and symmetric algorithms are refused. The claims ``sub``
(actor), ``role``, ``brands`` (or ``all_brands``) and, for the custom role, ``permissions``
decide the principal. Revocation is the IdP's business: keep token lifetimes short.
"""

from __future__ import annotations

import asyncio

import jwt

from jackpot.settings import Settings

from .problems import Problem
from .rbac import Permission, Principal, Role

ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="jackpot-admin"'})


class JwtVerifier:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.admin_jwt_issuer
        self.audience = settings.admin_jwt_audience
        self.algorithms = [a.strip() for a in settings.admin_jwt_algorithms.split(",") if a.strip()]
        bad = [a for a in self.algorithms if a not in ASYMMETRIC]
        if bad or not self.algorithms:
            raise ValueError(f"JWT algorithms must be asymmetric ({', '.join(sorted(ASYMMETRIC))}), not {bad}")
        self.public_key = settings.admin_jwt_public_key or None
        self.jwks = jwt.PyJWKClient(settings.admin_jwt_jwks_url, cache_keys=True, lifespan=300) \
            if settings.admin_jwt_jwks_url else None
        if not (self.public_key or self.jwks):
            raise ValueError("JWT needs JACKPOT_ADMIN_JWT_JWKS_URL or JACKPOT_ADMIN_JWT_PUBLIC_KEY")

    async def principal(self, token: str) -> Principal:
        try:
            if self.jwks is not None:  # the JWKS client does blocking HTTP (cached): keep it off the loop
                key = (await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)).key
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
        return Principal(token_id=f"jwt:{claims.get('jti') or claims['sub']}", actor=str(claims["sub"]), role=role,
                         brands=frozenset(brands), all_brands=all_brands, custom_permissions=perms)
