"""Operator override controls (spec: Operator Override Controls, Emergency Controls).

Every control is a command on the jackpot's partition; the answer says whether the engine
applied or refused it and when (200 / 409), or that it is still on its way (202 with a
Location to poll). Confirmations follow the specification: force drop is double-confirmed
(repeat the jackpot's name) with a reason; manual adjust is double-confirmed by repeating the
amount; void win, emergency shutdown and lifting a shutdown need a second, different Admin
(four eyes): the first Admin's call opens a co-approval request and only the second Admin's
approval sends the command, carrying both names. "Different" compares persons (a human's CLI
token and IdP login are one person, see tokens.py). While the system is shut down, nothing
short of that second approval resumes anything: a global pause (which would downgrade the
shutdown) and single-jackpot resumes are refused.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

from . import models as m
from .api import Ctx
from .commands import stored_receipt
from .problems import Problem
from .rbac import Permission as P
from .registry import (answer_command, api, await_receipts, check_scope, confirm_name, require_published, result_of,
                       scoped, send_command)
from .store import JackpotRecord

CMD = dict(tag="controls", query=m.WaitQuery, response=m.CommandResult, extra_statuses={202: m.CommandResult})


def _level(rec: JackpotRecord, level_id: uuid.UUID | None) -> str | None:
    if level_id is None:
        return None
    if str(level_id) not in {lv["level_id"] for lv in rec.steps.get("levels", {}).get("levels", [])}:
        raise Problem(422, "unknown-level", f"level {level_id} is not a level of jackpot {rec.jackpot_id}")
    return str(level_id)


def _currency(rec: JackpotRecord, currency: str | None) -> str | None:
    if currency is not None and currency not in rec.steps.get("identity", {}).get("currencies", []):
        raise Problem(422, "unknown-currency", f"jackpot {rec.jackpot_id} has no {currency} pools")
    return currency


def confirmed_amount(amount: str, confirmation: str) -> Decimal:
    """The amount of a double-confirmed money command (typed twice, identical)."""
    if Decimal(confirmation) != Decimal(amount):
        raise Problem(422, "confirmation-mismatch", "confirm_amount must repeat amount exactly")
    return Decimal(amount)


async def _live(ctx: Ctx, jackpot_id: Any) -> JackpotRecord:
    rec = await scoped(ctx, jackpot_id)
    require_published(rec)
    if rec.status == "ARCHIVED":
        raise Problem(409, "archived", "the jackpot is archived")
    return rec


@api.op("POST", "/v1/jackpots/{jackpot_id}/force-drop", summary="Force drop a level now (double confirmation + reason)",
        permission=P.DROP_CONTROL, path_model=m.JackpotPath, body=m.ForceDropBody, **CMD)
async def force_drop(ctx: Ctx, path: m.JackpotPath, body: m.ForceDropBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    confirm_name(rec, body.confirmation)
    return answer_command(ctx, await send_command(
        ctx, rec.jackpot_id, "force_drop", reason=body.reason, wait_s=query.wait_s,
        level_id=_level(rec, body.level_id), currency=_currency(rec, body.currency), approvals=[ctx.actor]))


@api.op("POST", "/v1/jackpots/{jackpot_id}/delay-drop", summary="Snooze drops for a while (reason)",
        permission=P.DROP_CONTROL, path_model=m.JackpotPath, body=m.DelayDropBody, **CMD)
async def delay_drop(ctx: Ctx, path: m.JackpotPath, body: m.DelayDropBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    return answer_command(ctx, await send_command(
        ctx, rec.jackpot_id, "delay_drop", reason=body.reason, wait_s=query.wait_s,
        level_id=_level(rec, body.level_id), currency=_currency(rec, body.currency),
        delay_seconds=body.delay_seconds))


@api.op("POST", "/v1/jackpots/{jackpot_id}/cancel-drop", summary="Void the secret target and draw a new one (reason)",
        permission=P.DROP_CONTROL, path_model=m.JackpotPath, body=m.CancelDropBody, **CMD)
async def cancel_drop(ctx: Ctx, path: m.JackpotPath, body: m.CancelDropBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    return answer_command(ctx, await send_command(
        ctx, rec.jackpot_id, "cancel_drop", reason=body.reason, wait_s=query.wait_s,
        level_id=_level(rec, body.level_id), currency=_currency(rec, body.currency)))


@api.op("POST", "/v1/jackpots/{jackpot_id}/pause", summary="Pause contributions (jackpot or one level)",
        permission=P.PAUSE_RESUME, path_model=m.JackpotPath, body=m.PauseBody, **CMD)
async def pause_jackpot(ctx: Ctx, path: m.JackpotPath, body: m.PauseBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    return answer_command(ctx, await send_command(ctx, rec.jackpot_id, "pause", reason=body.reason,
                                                  wait_s=query.wait_s, level_id=_level(rec, body.level_id)))


@api.op("POST", "/v1/jackpots/{jackpot_id}/resume", summary="Resume contributions (buffered ones are applied)",
        permission=P.PAUSE_RESUME, path_model=m.JackpotPath, body=m.PauseBody, **CMD)
async def resume_jackpot(ctx: Ctx, path: m.JackpotPath, body: m.PauseBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)

    async def not_in_shutdown(conn: Any) -> None:
        # FOR SHARE: a shutdown being recorded waits for this resume to be queued (its pause then
        # follows it through the outbox), or this resume sees the shutdown and is refused.
        mode = await conn.fetchval("SELECT mode FROM admin_system_state FOR SHARE")
        _refuse_in(mode, "resuming a jackpot")

    return answer_command(ctx, await send_command(ctx, rec.jackpot_id, "resume", reason=body.reason,
                                                  wait_s=query.wait_s, level_id=_level(rec, body.level_id),
                                                  guard=not_in_shutdown))


@api.op("POST", "/v1/jackpots/{jackpot_id}/no-win", summary="No-win mode on or off (Admin, reason)",
        permission=P.NO_WIN_MODE, path_model=m.JackpotPath, body=m.NoWinBody, **CMD)
async def no_win(ctx: Ctx, path: m.JackpotPath, body: m.NoWinBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    action = "no_win_on" if body.enabled else "no_win_off"
    return answer_command(ctx, await send_command(ctx, rec.jackpot_id, action, reason=body.reason,
                                                  wait_s=query.wait_s, level_id=_level(rec, body.level_id)))


@api.op("POST", "/v1/jackpots/{jackpot_id}/adjustments",
        summary="Manual adjustment of a pool (Admin, double confirmation + amount + reason)",
        permission=P.MANUAL_ADJUST, path_model=m.JackpotPath, body=m.AdjustBody, **CMD)
async def adjust_pool(ctx: Ctx, path: m.JackpotPath, body: m.AdjustBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    amount = confirmed_amount(body.amount, body.confirm_amount)
    if amount == 0:
        raise Problem(422, "zero-amount", "an adjustment needs a non-zero amount")
    if body.adjustment_reason == "PRE_SEED" and amount < 0:
        raise Problem(422, "negative-pre-seed", "a pre-seed adds funds; use a negative MALFUNCTION_CORRECTION to remove")
    return answer_command(ctx, await send_command(
        ctx, rec.jackpot_id, "manual_adjust", reason=body.reason, wait_s=query.wait_s,
        level_id=_level(rec, body.level_id), currency=_currency(rec, body.currency), amount=amount,
        adjustment_reason=body.adjustment_reason, approvals=[ctx.actor]))


# ----------------------------------------------------------------------------- four eyes
def _co_view(row: Any) -> dict[str, Any]:
    d = dict(row)
    d["request_id"] = str(d["request_id"])
    d["payload"] = json.loads(d["payload"]) if isinstance(d["payload"], str) else d["payload"]
    return {k: d.get(k) for k in m.CoApproval.model_fields}


SYSTEM_ACTIONS = ("emergency_shutdown", "lift_shutdown")  # four-eyes requests that need system:control
CO_COLUMNS = ("request_id, action, jackpot_id, brands, payload, reason, initiated_by, initiated_at, expires_at, "
              "state, decided_by, decided_at, decision_reason, command_id")


async def _open_co_approval(ctx: Ctx, action: str, jackpot_id: str | None, brands: list[str], payload: dict,
                            reason: str) -> dict[str, Any]:
    s = ctx.services
    hours = s.settings.admin_co_approval_hours
    async with s.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"INSERT INTO admin_co_approvals (request_id, action, jackpot_id, brands, payload, reason, initiated_by, "
            f"expires_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(hours => $8), 'pending') "
            f"RETURNING {CO_COLUMNS}",
            uuid.uuid4(), action, jackpot_id, brands, json.dumps(payload), reason, ctx.actor, hours)
        view = _co_view(row)
        await s.trail.record(ctx.principal, action=f"co_approval_requested:{action}", jackpot_id=jackpot_id,
                             request_id=ctx.request_id, reason=reason, after=view, conn=conn)
    return view


@api.op("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/void",
        summary="Void a win (Admin; triple confirmation: type the win id, reason, and a second Admin approves)",
        tag="controls", permission=P.VOID_WIN, path_model=m.WinPath, body=m.VoidWinBody, response=m.CoApproval,
        status=202)
async def void_win(ctx: Ctx, path: m.WinPath, body: m.VoidWinBody) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    if body.confirmation.strip() != path.win_id:
        raise Problem(422, "confirmation-mismatch", "confirmation must repeat the win id exactly")
    view = await _open_co_approval(ctx, "void_win", rec.jackpot_id, rec.brands, {"win_id": path.win_id}, body.reason)
    ctx.headers["Location"] = f"/v1/co-approvals/{view['request_id']}"
    return view


PAID = ("confirmed", "escrow", "resolved")


@api.op("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/reverse",
        summary="Reverse a paid win the wallet took back (Admin; type the win id, a second Admin approves)",
        tag="controls", permission=P.VOID_WIN, path_model=m.WinPath, body=m.ReverseWinBody, response=m.CoApproval,
        status=202)
async def reverse_win(ctx: Ctx, path: m.WinPath, body: m.ReverseWinBody) -> dict[str, Any]:
    """engine/reversal.py: the main prizes paid for the win go back into its level's pool, once."""
    rec = await _live(ctx, path.jackpot_id)
    if body.confirmation.strip() != path.win_id:
        raise Problem(422, "confirmation-mismatch", "confirmation must repeat the win id exactly")
    row = await ctx.services.pool.fetchrow(
        "SELECT w.level_id, w.currency::text AS currency, w.status, "
        "(SELECT sum(p.amount) FROM prizes p WHERE p.win_id = w.win_id AND p.kind = 'main' "
        " AND p.payout_status = ANY($3::text[])) AS paid "
        "FROM wins w WHERE w.win_id = $1 AND w.jackpot_id = $2", path.win_id, rec.jackpot_id, list(PAID))
    if row is None:
        raise Problem(404, "not-found", f"no win {path.win_id} on this jackpot")
    if row["status"] == "reversed":
        raise Problem(409, "already-reversed", f"win {path.win_id} was reversed already")
    if row["status"] != "won" or not row["paid"]:
        raise Problem(409, "not-paid", f"win {path.win_id} is {row['status']} with nothing paid: void it instead")
    payload = {"win_id": path.win_id, "level_id": row["level_id"], "currency": row["currency"],
               "amount": format(row["paid"], "f"), "wallet_reference": body.wallet_reference}
    view = await _open_co_approval(ctx, "reverse_win", rec.jackpot_id, rec.brands, payload,
                                   f"{body.reason} (wallet debit {body.wallet_reference})")
    ctx.headers["Location"] = f"/v1/co-approvals/{view['request_id']}"
    return view


@api.op("GET", "/v1/co-approvals", summary="Four-eyes requests waiting for a second Admin", tag="controls",
        permission=P.VOID_WIN, query=m.CoApprovalQuery, response=m.CoApprovalList)
async def list_co_approvals(ctx: Ctx, query: m.CoApprovalQuery) -> dict[str, Any]:
    await _expire_co_approvals(ctx)
    rows = await ctx.services.pool.fetch(
        f"SELECT {CO_COLUMNS} FROM admin_co_approvals WHERE ($1::text IS NULL OR state = $1) "
        "ORDER BY initiated_at DESC LIMIT 500", query.state)
    items = []
    for r in rows:
        if not (ctx.principal.in_scope(list(r["brands"])) or not r["brands"] and ctx.principal.all_brands):
            continue
        view = _co_view(r)
        view["can_decide"] = (r["state"] == "pending" and r["initiated_by"] != ctx.actor
                              and (r["action"] not in SYSTEM_ACTIONS or ctx.principal.can(P.SYSTEM_CONTROL)))
        items.append(view)
    return {"items": items}


async def _expire_co_approvals(ctx: Ctx) -> None:
    await ctx.services.pool.execute(
        "UPDATE admin_co_approvals SET state = 'expired' WHERE state = 'pending' AND expires_at <= now()")


@api.op("POST", "/v1/co-approvals/{request_id}/decide",
        summary="Second Admin approves or rejects (never the initiator); approval sends the command",
        tag="controls", permission=P.VOID_WIN, path_model=m.CoApprovalPath, body=m.CoApprovalDecision,
        query=m.WaitQuery, response=m.CoApprovalResult, extra_statuses={202: m.CoApprovalResult})
async def decide_co_approval(ctx: Ctx, path: m.CoApprovalPath, body: m.CoApprovalDecision,
                             query: m.WaitQuery) -> dict[str, Any]:
    s = ctx.services
    await _expire_co_approvals(ctx)
    async with s.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(f"SELECT {CO_COLUMNS} FROM admin_co_approvals WHERE request_id = $1 FOR UPDATE",
                                  path.request_id)
        if row is None:
            raise Problem(404, "not-found", f"co-approval request {path.request_id} not found")
        brands = list(row["brands"])
        if (brands and not ctx.principal.in_scope(brands)) or (not brands and not ctx.principal.all_brands):
            raise Problem(403, "brand-scope", "this request concerns brands outside your scope")
        if row["action"] in SYSTEM_ACTIONS and not ctx.principal.can(P.SYSTEM_CONTROL):
            raise Problem(403, "forbidden", f"role {ctx.principal.role.value} lacks permission system:control")
        if row["state"] != "pending":
            raise Problem(409, "already-decided", f"the request is {row['state']}")
        if row["initiated_by"] == ctx.actor:  # persons: another credential of the initiator is still the initiator
            raise Problem(403, "four-eyes", "the initiator cannot decide their own request; a second Admin must")
        if body.approve and row["action"] == "reverse_win":
            await _live(ctx, row["jackpot_id"])  # archived since it was requested: nothing to reverse into
        state = "approved" if body.approve else "rejected"
        decided = await conn.fetchrow(
            f"UPDATE admin_co_approvals SET state = $2, decided_by = $3, decided_at = now(), decision_reason = $4 "
            f"WHERE request_id = $1 RETURNING {CO_COLUMNS}", path.request_id, state, ctx.actor, body.reason or None)
        await s.trail.record(ctx.principal, action=f"co_approval_{state}:{row['action']}", jackpot_id=row["jackpot_id"],
                             request_id=ctx.request_id, reason=body.reason or None, before=_co_view(row),
                             after=_co_view(decided), conn=conn)
    commands: list[dict[str, Any]] = []
    if body.approve:
        payload = json.loads(row["payload"])
        if row["action"] == "void_win":
            commands.append(await send_command(
                ctx, row["jackpot_id"], "void_win", reason=row["reason"], wait_s=query.wait_s,
                win_id=payload["win_id"], approvals=[row["initiated_by"], ctx.actor],
                audit_detail={"initiated_by": row["initiated_by"], "co_approved_by": ctx.actor}))
        elif row["action"] == "reverse_win":
            commands.append(await send_command(
                ctx, row["jackpot_id"], "reverse_win", reason=row["reason"], wait_s=query.wait_s,
                win_id=payload["win_id"], level_id=payload["level_id"], currency=payload["currency"],
                amount=Decimal(payload["amount"]), approvals=[row["initiated_by"], ctx.actor],
                audit_detail={"initiated_by": row["initiated_by"], "co_approved_by": ctx.actor}))
        elif row["action"] == "lift_shutdown":
            commands.extend(await _system_apply(ctx, "running", row["reason"], query.wait_s, row["initiated_by"]))
        else:
            commands.extend(await _system_apply(ctx, "shutdown", row["reason"], query.wait_s, row["initiated_by"]))
        if commands:
            await s.pool.execute("UPDATE admin_co_approvals SET command_id = $2 WHERE request_id = $1",
                                 path.request_id, commands[0]["command_id"])
            decided = await s.pool.fetchrow(f"SELECT {CO_COLUMNS} FROM admin_co_approvals WHERE request_id = $1",
                                            path.request_id)
    if any(c["state"] == "pending" for c in commands):
        ctx.status = 202
    return {"request": _co_view(decided), "commands": commands}


# ----------------------------------------------------------------------------- command status
@api.op("GET", "/v1/commands/{command_id}", summary="Whether and when a command was applied", tag="controls",
        permission=P.DASHBOARD_READ, path_model=m.CommandPath, response=m.CommandResult,
        extra_statuses={202: m.CommandResult})
async def command_status(ctx: Ctx, path: m.CommandPath) -> dict[str, Any]:
    s = ctx.services
    cid = str(path.command_id)
    row = await s.pool.fetchrow("SELECT jackpot_id, action, sent_at FROM admin_commands WHERE command_id = $1",
                                path.command_id)
    if row is None:
        raise Problem(404, "not-found", f"command {cid} not found")
    await check_scope(ctx, row["jackpot_id"])
    receipt = s.receipts.recent(cid) or await stored_receipt(s.pool, cid)
    result = result_of(cid, row["jackpot_id"], row["action"], row["sent_at"], receipt)
    if result["state"] == "pending":
        ctx.status = 202
    return result


# ----------------------------------------------------------------------------- system controls
async def _system_state(ctx: Ctx) -> dict[str, Any]:
    row = await ctx.services.pool.fetchrow("SELECT mode, changed_at, changed_by, reason FROM admin_system_state")
    return dict(row)


async def _live_jackpots(ctx: Ctx) -> list[str]:
    rows = await ctx.services.pool.fetch(
        "SELECT jackpot_id FROM admin_jackpots WHERE published_version IS NOT NULL AND status <> 'ARCHIVED' "
        "ORDER BY jackpot_id")
    return [r["jackpot_id"] for r in rows]


async def _system_apply(ctx: Ctx, mode: str, reason: str, wait_s: float | None,
                        initiated_by: str | None = None) -> list[dict[str, Any]]:
    """Pause (paused, shutdown) or resume (running) every live jackpot, and record the mode."""
    s = ctx.services
    action = "resume" if mode == "running" else "pause"
    async with s.pool.acquire() as conn, conn.transaction():
        before = dict(await conn.fetchrow("SELECT mode, changed_by, reason FROM admin_system_state FOR UPDATE"))
        await conn.execute("UPDATE admin_system_state SET mode = $1, changed_at = now(), changed_by = $2, reason = $3",
                           mode, ctx.actor, reason)
        await s.trail.record(ctx.principal, action=f"system:{mode}", jackpot_id=None, request_id=ctx.request_id,
                             reason=reason, before=before, after={"mode": mode, "initiated_by": initiated_by},
                             conn=conn)
    limit = asyncio.Semaphore(16)

    async def one(jackpot_id: str) -> dict[str, Any]:
        async with limit:
            try:
                return await send_command(ctx, jackpot_id, action, reason=f"system {mode}: {reason}", wait_s=0)
            except Problem as p:  # one unconfirmed send must not hide the others
                if p.status != 503:
                    raise
                return {"command_id": p.extra["command_id"], "jackpot_id": jackpot_id, "action": action,
                        "state": "pending", "sent_at": None, "applied_at": None, "detail": p.detail}

    results = list(await asyncio.gather(*(one(j) for j in await _live_jackpots(ctx))))
    return await await_receipts(ctx, results, 0 if wait_s is None else wait_s)


@api.op("GET", "/v1/system", summary="System mode (running, paused, shutdown)", tag="system",
        permission=P.DASHBOARD_READ, response=m.SystemState)
async def system_state(ctx: Ctx) -> dict[str, Any]:
    return await _system_state(ctx)


async def _refuse_during_shutdown(ctx: Ctx, what: str) -> None:
    _refuse_in((await _system_state(ctx))["mode"], what)


def _refuse_in(mode: str, what: str) -> None:
    if mode == "shutdown":
        raise Problem(409, "system-shutdown", f"the system is in emergency shutdown: {what} is refused until two "
                      "Admins lift it (POST /v1/system/global-resume, then a second Admin approves)")


@api.op("POST", "/v1/system/global-pause", summary="Pause every active jackpot at once (Admin)", tag="system",
        permission=P.SYSTEM_CONTROL, body=m.SystemBody, query=m.WaitQuery, response=m.SystemResult)
async def global_pause(ctx: Ctx, body: m.SystemBody, query: m.WaitQuery) -> dict[str, Any]:
    _all_brands(ctx)
    await _refuse_during_shutdown(ctx, "a global pause (it would downgrade the shutdown)")
    commands = await _system_apply(ctx, "paused", body.reason, query.wait_s)
    return {"state": await _system_state(ctx), "commands": commands}


@api.op("POST", "/v1/system/global-resume",
        summary="Resume every jackpot after a global pause (Admin); after a shutdown: opens a four-eyes request",
        tag="system", permission=P.SYSTEM_CONTROL, body=m.SystemBody, query=m.WaitQuery, response=m.SystemResult,
        extra_statuses={202: m.SystemResult})
async def global_resume(ctx: Ctx, body: m.SystemBody, query: m.WaitQuery) -> dict[str, Any]:
    _all_brands(ctx)
    state = await _system_state(ctx)
    if state["mode"] == "shutdown":  # a shutdown took two Admins; lifting it takes two as well
        co = await _open_co_approval(ctx, "lift_shutdown", None, [], {"mode": "running"}, body.reason)
        ctx.status = 202
        ctx.headers["Location"] = f"/v1/co-approvals/{co['request_id']}"
        return {"state": state, "commands": [], "co_approval": co}
    commands = await _system_apply(ctx, "running", body.reason, query.wait_s)
    return {"state": await _system_state(ctx), "commands": commands}


@api.op("POST", "/v1/system/emergency-shutdown",
        summary="Emergency shutdown (Admin + supervisor): opens a four-eyes request", tag="system",
        permission=P.SYSTEM_CONTROL, body=m.SystemBody, response=m.SystemResult, status=202)
async def emergency_shutdown(ctx: Ctx, body: m.SystemBody) -> dict[str, Any]:
    _all_brands(ctx)
    co = await _open_co_approval(ctx, "emergency_shutdown", None, [], {"mode": "shutdown"}, body.reason)
    ctx.headers["Location"] = f"/v1/co-approvals/{co['request_id']}"
    return {"state": await _system_state(ctx), "commands": [], "co_approval": co}


def _all_brands(ctx: Ctx) -> None:
    if not ctx.principal.all_brands:
        raise Problem(403, "brand-scope", "system controls act on every brand: they need a cross-brand token")
