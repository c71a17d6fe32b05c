"""Per-jackpot P&L and expected value (spec: Budget Model), the public rules document, and the
audit trail for auditors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from jackpot.sinks.budget import jackpot_alerts
from jackpot.sinks.reports import expected_value, pnl

from . import models as m
from . import rules_document
from .api import Ctx
from .problems import Problem
from .rbac import Permission as P
from .registry import api, scoped
from .wizard import review

Q = Decimal("0.000001")


def _s(v: Any) -> str | None:
    return None if v is None else format(Decimal(v).quantize(Q), "f")


@api.op("GET", "/v1/jackpots/{jackpot_id}/finance", summary="P&L and expected value per cycle", tag="reports",
        permission=P.REPORTS_READ, path_model=m.JackpotPath, response=m.Finance)
async def finance(ctx: Ctx, path: m.JackpotPath) -> dict[str, Any]:
    rec = await scoped(ctx, path.jackpot_id)
    async with ctx.services.pool.acquire() as conn:
        rows = await pnl(conn, rec.jackpot_id)
        try:
            ev = await expected_value(conn, rec.jackpot_id)
        except LookupError:
            ev = []
        alerts = await jackpot_alerts(conn, rec.jackpot_id, dt.datetime.now(dt.timezone.utc))
    money = {k for k, f in m.PnlRow.model_fields.items() if f.annotation is str and k != "currency"}
    pnl_rows = [{k: (_s(v) if k in money else v) for k, v in r.items()} for r in rows]
    ev_rows = [{k: (_s(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in ev]
    return {"jackpot_id": rec.jackpot_id, "pnl": pnl_rows, "expected_value": ev_rows, "alerts": [a.text() for a in alerts]}


@api.op("GET", "/v1/jackpots/{jackpot_id}/rules", summary="The public rules document (regulatory item 14)",
        tag="reports", permission=P.DASHBOARD_READ, path_model=m.JackpotPath, query=m.RulesQuery,
        response=m.RulesDocument)
async def rules(ctx: Ctx, path: m.JackpotPath, query: m.RulesQuery) -> dict[str, Any]:
    rec = await scoped(ctx, path.jackpot_id)
    config = await ctx.services.jackpots.current_config(rec.jackpot_id)
    if config is None:
        result, jackpot = review(rec.jackpot_id, rec.steps)
        if jackpot is None:
            raise Problem(409, "not-ready", "the rules need a valid configuration: " + "; ".join(result.problems))
        config = json.loads(jackpot.model_dump_json())
    langs = rules_document.languages(rec.presentation)
    lang = query.lang or rec.presentation.get("default_language") or "en"
    if lang not in langs:
        raise Problem(404, "not-found", f"no rules in language {lang}; available: {', '.join(langs)}")
    return rules_document.build(config, rec.presentation, lang)


@api.op("GET", "/v1/audit", summary="The hash-chained audit trail (newest first)", tag="reports",
        permission=P.AUDIT_READ, query=m.AuditQuery, response=m.AuditPage)
async def audit_trail(ctx: Ctx, query: m.AuditQuery) -> dict[str, Any]:
    if not ctx.principal.all_brands:
        if query.jackpot_id is None:
            raise Problem(403, "brand-scope", "a brand-scoped token reads the audit trail of one jackpot at a time")
        await scoped(ctx, query.jackpot_id)
    rows = await ctx.services.trail.entries(jackpot_id=str(query.jackpot_id) if query.jackpot_id else None,
                                            event_type=query.event_type, limit=query.limit,
                                            before_seq=query.before_seq)
    return {"items": [{**r, "event_id": str(r["event_id"]), "body": json.loads(r["body"])} for r in rows]}
