"""Payout exceptions and pool corrections from the Back Office (spec: Failed Win Handling,
Operator Override Controls, regulatory item 11).

A prize whose wallet credits all failed waits in ``manual`` (PENDING_MANUAL_RESOLUTION) with its
pool locked. The operator sees it in the payout list, then either retries the credit (the same
idempotency key: a wallet that did credit the first time does not pay twice) or records an
alternative payout made outside the wallet (a bank transfer, a cheque: the reference says which),
which settles the win and lets the pool reseed. Voiding a win is four-eyes (``controls.py``).

Also here, each a command on the jackpot's partition like every control: clearing the fault state
(an operator, never the system, after investigating), a transfer between two levels' pools
(double-confirmed amount, like a manual adjustment), and ending a timed or promotional jackpot now.
"""

from __future__ import annotations

from typing import Any

from . import models as m
from .api import Ctx
from .approvals import mask
from .controls import CMD, _currency, _level, _live, confirmed_amount
from .problems import Problem
from .rbac import Permission as P
from .registry import answer_command, api, check_scope, confirm_name, send_command

ATTENTION = ("manual", "retry_wait", "escrow")  # prize payout states an operator may have to act on

PAYOUTS_SQL = """
SELECT p.win_id, p.kind, p.rank, p.level_id, p.currency::text AS currency, p.player_id, p.amount, p.net_amount,
       p.payout_status, p.payout_attempt, p.status_at, w.dropped_at
FROM prizes p LEFT JOIN wins w USING (win_id)
WHERE p.jackpot_id = $1 AND ($2::text[] IS NULL OR p.payout_status = ANY($2::text[]))
ORDER BY w.dropped_at DESC NULLS LAST, p.win_id, p.kind, p.rank
LIMIT $3
"""


@api.op("GET", "/v1/jackpots/{jackpot_id}/payouts",
        summary="Prizes and their payout state (default: those waiting for an operator)", tag="payouts",
        permission=P.MONITOR_READ, path_model=m.JackpotPath, query=m.PayoutsQuery, response=m.PayoutList)
async def payouts(ctx: Ctx, path: m.JackpotPath, query: m.PayoutsQuery) -> dict[str, Any]:
    jid = str(path.jackpot_id)
    await check_scope(ctx, jid)
    states = None if query.state == "all" else list(ATTENTION if query.state == "attention" else (query.state,))
    rows = await ctx.services.pool.fetch(PAYOUTS_SQL, jid, states, query.limit)
    return {"state": query.state, "items": [{
        "win_id": r["win_id"], "kind": r["kind"], "rank": r["rank"], "level_id": r["level_id"],
        "currency": r["currency"], "player_id_masked": mask(r["player_id"]), "amount": str(r["amount"]),
        "net_amount": None if r["net_amount"] is None else str(r["net_amount"]),
        "payout_status": r["payout_status"], "attempt": r["payout_attempt"], "status_at": r["status_at"],
        "dropped_at": r["dropped_at"]} for r in rows]}


@api.op("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/retry-payout",
        summary="Retry the wallet credit of a prize pending manual resolution (same idempotency key)",
        permission=P.APPROVALS_DECIDE, path_model=m.WinPath, body=m.RetryPayoutBody, **CMD)
async def retry_payout(ctx: Ctx, path: m.WinPath, body: m.RetryPayoutBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    return answer_command(ctx, await send_command(ctx, rec.jackpot_id, "retry_payout", reason=body.reason,
                                                  wait_s=query.wait_s, win_id=path.win_id))


@api.op("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/alternative-payout",
        summary="Record a prize paid outside the wallet (Admin; type the win id, give the payment reference)",
        permission=P.PAYOUT_RESOLVE, path_model=m.WinPath, body=m.AlternativePayoutBody, **CMD)
async def alternative_payout(ctx: Ctx, path: m.WinPath, body: m.AlternativePayoutBody,
                             query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    if body.confirmation.strip() != path.win_id:
        raise Problem(422, "confirmation-mismatch", "confirmation must repeat the win id exactly")
    # the engine keeps the reference as the prize's transaction id
    return answer_command(ctx, await send_command(
        ctx, rec.jackpot_id, "resolve_payout", reason=body.reference, wait_s=query.wait_s, win_id=path.win_id,
        audit_detail={"reason": body.reason, "reference": body.reference}))


@api.op("POST", "/v1/jackpots/{jackpot_id}/clear-fault",
        summary="Clear the fault state after investigation (Admin; type the jackpot's name, reason)",
        permission=P.FAULT_CLEAR, path_model=m.JackpotPath, body=m.NamedConfirmation, **CMD)
async def clear_fault(ctx: Ctx, path: m.JackpotPath, body: m.NamedConfirmation, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    confirm_name(rec, body.confirmation)
    return answer_command(ctx, await send_command(ctx, rec.jackpot_id, "clear_fault", reason=body.reason,
                                                  wait_s=query.wait_s))


@api.op("POST", "/v1/jackpots/{jackpot_id}/transfers",
        summary="Move funds from one level's pool to another's (Admin, double confirmation + amount + reason)",
        permission=P.MANUAL_ADJUST, path_model=m.JackpotPath, body=m.TransferBody, **CMD)
async def transfer(ctx: Ctx, path: m.JackpotPath, body: m.TransferBody, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    amount = confirmed_amount(body.amount, body.confirm_amount)
    if amount <= 0:
        raise Problem(422, "zero-amount", "a transfer needs a positive amount")
    source, target = _level(rec, body.from_level_id), _level(rec, body.to_level_id)
    if source == target:
        raise Problem(422, "same-level", "a transfer needs two different levels")
    return answer_command(ctx, await send_command(
        ctx, rec.jackpot_id, "transfer", reason=body.reason, wait_s=query.wait_s, level_id=source,
        target_level_id=target, currency=_currency(rec, body.currency), amount=amount, approvals=[ctx.actor]))


@api.op("POST", "/v1/jackpots/{jackpot_id}/expire",
        summary="End a timed or promotional jackpot now (type the jackpot's name, reason)",
        permission=P.JACKPOT_CONFIGURE, path_model=m.JackpotPath, body=m.NamedConfirmation, **CMD)
async def expire(ctx: Ctx, path: m.JackpotPath, body: m.NamedConfirmation, query: m.WaitQuery) -> dict[str, Any]:
    rec = await _live(ctx, path.jackpot_id)
    confirm_name(rec, body.confirmation)
    kind = rec.steps.get("identity", {}).get("type")
    if kind not in ("TIMED", "PROMOTIONAL"):
        raise Problem(409, "not-expirable", f"only a TIMED or PROMOTIONAL jackpot expires; this one is {kind}")
    return answer_command(ctx, await send_command(ctx, rec.jackpot_id, "expire", reason=body.reason,
                                                  wait_s=query.wait_s))
