"""Budget Constraint Mode through the admin API (spec: Budget Model): operator-wide limits per
currency, read and set by Admins with access to every brand (the limits and the month's cost
span every jackpot), each change audited. The checks themselves are ``sinks/budget.py``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from jackpot.sinks.budget import constraint_alerts, constraints, month_figures

from . import models as m
from .api import Ctx
from .problems import Problem
from .rbac import Permission as P
from .registry import api

Q = Decimal("0.000001")


def _s(v: Any) -> str | None:
    return None if v is None else format(Decimal(v).quantize(Q), "f")


def _all_brands(ctx: Ctx) -> None:
    assert ctx.principal is not None
    if not ctx.principal.all_brands:
        raise Problem(403, "brand-scope", "budget limits span every brand: they need a token with access to all brands")


async def _view(ctx: Ctx) -> dict[str, Any]:
    now = dt.datetime.now(dt.timezone.utc)
    async with ctx.services.pool.acquire() as conn:
        limits = await constraints(conn)
        figures = await month_figures(conn, now)
        alerts = await constraint_alerts(conn, now)
    items = []
    for cur in sorted(set(limits) | set(figures)):
        lim, f = limits.get(cur, {}), figures.get(cur, {})
        items.append({"currency": cur, "max_monthly_cost": _s(lim.get("max_monthly_cost")),
                      "max_single_prize": _s(lim.get("max_single_prize")),
                      "max_chain_monthly": _s(lim.get("max_chain_monthly")),
                      "pause_activations": bool(lim.get("pause_activations", False)),
                      "month_cost": _s(f.get("cost", 0)), "month_chain_prizes": _s(f.get("chain", 0)),
                      "updated_by": lim.get("updated_by"), "updated_at": lim.get("updated_at")})
    return {"items": items, "alerts": [a.text() for a in alerts]}


@api.op("GET", "/v1/budget/constraints", summary="Budget limits per currency, this month's cost and alerts",
        tag="reports", permission=P.REPORTS_READ, response=m.BudgetConstraints)
async def list_constraints(ctx: Ctx) -> dict[str, Any]:
    _all_brands(ctx)
    return await _view(ctx)


@api.op("PUT", "/v1/budget/constraints/{currency}", summary="Set the budget limits of one currency",
        tag="system", permission=P.SYSTEM_CONTROL, path_model=m.CurrencyPath, body=m.BudgetConstraintBody,
        response=m.BudgetConstraints)
async def set_constraints(ctx: Ctx, path: m.CurrencyPath, body: m.BudgetConstraintBody) -> dict[str, Any]:
    _all_brands(ctx)
    s = ctx.services
    values = [None if v is None else Decimal(v) for v in (body.max_monthly_cost, body.max_single_prize,
                                                          body.max_chain_monthly)]
    if values[1] is not None and values[1] <= 0:
        raise Problem(422, "bad-limit", "max_single_prize must be above zero (omit it for no limit)")
    async with s.pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow("SELECT * FROM budget_constraints WHERE currency = $1 FOR UPDATE", path.currency)
        await conn.execute(
            "INSERT INTO budget_constraints (currency, max_monthly_cost, max_single_prize, max_chain_monthly, "
            "pause_activations, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now()) "
            "ON CONFLICT (currency) DO UPDATE SET max_monthly_cost = EXCLUDED.max_monthly_cost, "
            "max_single_prize = EXCLUDED.max_single_prize, max_chain_monthly = EXCLUDED.max_chain_monthly, "
            "pause_activations = EXCLUDED.pause_activations, updated_by = EXCLUDED.updated_by, updated_at = now()",
            path.currency, *values, body.pause_activations, ctx.actor)
        after = {"max_monthly_cost": body.max_monthly_cost, "max_single_prize": body.max_single_prize,
                 "max_chain_monthly": body.max_chain_monthly, "pause_activations": body.pause_activations}
        await s.trail.record(ctx.principal, action="budget_constraints", jackpot_id=None, request_id=ctx.request_id,
                             reason=body.reason, after={"currency": path.currency, **after},
                             before=None if before is None else {k: _s(v) if isinstance(v, Decimal) else v
                                                                 for k, v in dict(before).items()
                                                                 if k not in ("updated_at",)},
                             conn=conn)
    return await _view(ctx)
