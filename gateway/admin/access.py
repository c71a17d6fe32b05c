"""RBAC administration (Admin): list tokens and revoke one. Tokens are created only with the CLI,
so a secret never travels through the API; listing shows everything but the secret."""

from __future__ import annotations

from typing import Any

from . import models as m
from .api import Ctx
from .problems import Problem
from .rbac import Permission as P
from .registry import api


def _cross_brand(ctx: Ctx) -> None:
    if not ctx.principal.all_brands:
        raise Problem(403, "brand-scope", "token administration spans every brand: it needs a cross-brand token")


@api.op("GET", "/v1/tokens", summary="Bearer tokens (never their secrets)", tag="access",
        permission=P.RBAC_MANAGE, response=m.TokenList)
async def list_tokens(ctx: Ctx) -> dict[str, Any]:
    _cross_brand(ctx)
    rows = await ctx.services.tokens.list()
    return {"items": [{**r, "token_id": str(r["token_id"]), "brands": list(r["brands"]),
                       "permissions": list(r["permissions"])} for r in rows]}


@api.op("POST", "/v1/tokens/{token_id}/revoke", summary="Revoke a token (effective on its next request)",
        tag="access", permission=P.RBAC_MANAGE, path_model=m.TokenPath, body=m.RevokeBody, response=m.TokenInfo)
async def revoke_token(ctx: Ctx, path: m.TokenPath, body: m.RevokeBody) -> dict[str, Any]:
    _cross_brand(ctx)
    s = ctx.services
    owner = await s.tokens.owner(str(path.token_id))
    if owner is None:
        raise Problem(404, "not-found", f"no active token {path.token_id}")
    if owner == ctx.actor:  # the same person, whichever credential this call came with
        raise Problem(409, "self-revoke", "revoke your own tokens with the CLI, so an Admin cannot lock themselves out")
    if not await s.tokens.revoke(str(path.token_id), revoked_by=ctx.actor):
        raise Problem(404, "not-found", f"no active token {path.token_id}")
    await s.trail.record(ctx.principal, action="revoke_token", jackpot_id=None, request_id=ctx.request_id,
                         reason=body.reason, after={"token_id": str(path.token_id), "revoked": True})
    row = next(r for r in await s.tokens.list() if str(r["token_id"]) == str(path.token_id))
    return {**row, "token_id": str(row["token_id"]), "brands": list(row["brands"]),
            "permissions": list(row["permissions"])}
