"""The winner approval queue (spec: Winner Approval Queue).

Wins above the large-win threshold wait here. Tabs: All, For Approval (default), Paid,
Declined/Expired. Approving or declining is a command on the jackpot's partition (a decline
needs a reason and triggers the configured fallback); expiry and its escalating alerts run in
the engine on clock ticks, so the queue only reads what the ledger recorded.
"""

from __future__ import annotations

from typing import Any

from . import models as m
from .api import Ctx
from .problems import Problem
from .rbac import Permission as P
from .registry import answer_command, api, check_scope, send_command

PAID = ("confirmed", "escrow", "resolved")

# Every filter (brand scope included) is applied before the LIMIT: filtering after it would let a
# busy brand's wins push a small brand's out of the page until they expire.
QUEUE_SQL = """
SELECT q.* FROM (
    SELECT a.approval_id, a.win_id, a.jackpot_id, a.level_id, a.currency::text AS currency, a.kind, a.player_id,
           a.amount, a.threshold, a.requested_at, a.expires_at, a.decision, a.decided_by, a.decision_reason,
           a.escalations, p.game_id, p.brand_id, p.payout_status,
           coalesce(j.brands, ARRAY(SELECT jsonb_array_elements_text(v.config -> 'brands'))) AS brands
    FROM win_approvals a
    LEFT JOIN prizes p ON p.idempotency_key = a.approval_id
    LEFT JOIN admin_jackpots j ON j.jackpot_id = a.jackpot_id
    LEFT JOIN jackpot_configs c ON c.jackpot_id = a.jackpot_id
    LEFT JOIN jackpot_config_versions v ON v.jackpot_id = c.jackpot_id AND v.version = c.current_version
    WHERE ($1::text IS NULL OR a.jackpot_id = $1)
      AND ($6::text IS NULL OR a.level_id = $6)
      AND CASE $2
            WHEN 'for_approval' THEN a.decision IS NULL
            WHEN 'paid' THEN a.decision = 'approved' AND p.payout_status = ANY($3::text[])
            WHEN 'declined_expired' THEN a.decision IN ('declined', 'expired')
            ELSE true END
) q
WHERE ($4::boolean OR (cardinality(q.brands) > 0 AND q.brands <@ $5::text[]))
  AND ($7::text IS NULL OR $7 = ANY(q.brands) OR q.brand_id = $7)
ORDER BY q.requested_at DESC
LIMIT $8
"""


def mask(player_id: str) -> str:
    """Masked player id as the Back Office lists it: the first and last two characters."""
    if len(player_id) <= 4:
        return player_id[:1] + "***"
    return f"{player_id[:2]}***{player_id[-2:]}"


@api.op("GET", "/v1/approvals", summary="Approval queue with tabs and filters", tag="approvals",
        permission=P.DASHBOARD_READ, query=m.ApprovalsQuery, response=m.ApprovalList)
async def approval_queue(ctx: Ctx, query: m.ApprovalsQuery) -> dict[str, Any]:
    jid = str(query.jackpot_id) if query.jackpot_id else None
    if jid:
        await check_scope(ctx, jid)
    p = ctx.principal
    rows = await ctx.services.pool.fetch(
        QUEUE_SQL, jid, query.tab, list(PAID), p.all_brands, sorted(p.brands),
        str(query.level_id) if query.level_id else None, query.brand, query.limit)
    items = []
    for r in rows:
        if not p.in_scope(list(r["brands"] or [])):  # the query filtered already; this is a second lock
            continue
        items.append({
            "approval_id": r["approval_id"], "win_id": r["win_id"], "jackpot_id": r["jackpot_id"],
            "level_id": r["level_id"], "currency": r["currency"], "kind": r["kind"],
            "player_id_masked": mask(r["player_id"]), "amount": str(r["amount"]),
            "threshold": None if r["threshold"] is None else str(r["threshold"]), "game_id": r["game_id"],
            "brand_id": r["brand_id"], "requested_at": r["requested_at"], "expires_at": r["expires_at"],
            "decision": r["decision"], "decided_by": r["decided_by"], "decision_reason": r["decision_reason"],
            "escalations": r["escalations"], "payout_status": r["payout_status"],
        })
    return {"tab": query.tab, "items": items}


async def _approval(ctx: Ctx, approval_id: str) -> dict[str, Any]:
    row = await ctx.services.pool.fetchrow(
        "SELECT approval_id, jackpot_id, decision FROM win_approvals WHERE approval_id = $1", approval_id)
    if row is None:
        raise Problem(404, "not-found", f"approval {approval_id} not found")
    await check_scope(ctx, row["jackpot_id"])
    if row["decision"] is not None:
        raise Problem(409, "already-decided", f"approval {approval_id} is already {row['decision']}")
    return dict(row)


@api.op("POST", "/v1/approvals/{approval_id}/approve", summary="Approve a large win (payout proceeds)",
        tag="approvals", permission=P.APPROVALS_DECIDE, path_model=m.ApprovalPath, body=m.DecideBody,
        query=m.WaitQuery, response=m.CommandResult, extra_statuses={202: m.CommandResult})
async def approve_win(ctx: Ctx, path: m.ApprovalPath, body: m.DecideBody, query: m.WaitQuery) -> dict[str, Any]:
    row = await _approval(ctx, path.approval_id)
    return answer_command(ctx, await send_command(ctx, row["jackpot_id"], "approve_win", reason=body.reason,
                                                  wait_s=query.wait_s, win_id=path.approval_id,
                                                  player_id=body.player_id))


@api.op("POST", "/v1/approvals/{approval_id}/decline", summary="Decline a large win (reason required)",
        tag="approvals", permission=P.APPROVALS_DECIDE, path_model=m.ApprovalPath, body=m.DeclineBody,
        query=m.WaitQuery, response=m.CommandResult, extra_statuses={202: m.CommandResult})
async def decline_win(ctx: Ctx, path: m.ApprovalPath, body: m.DeclineBody, query: m.WaitQuery) -> dict[str, Any]:
    row = await _approval(ctx, path.approval_id)
    return answer_command(ctx, await send_command(ctx, row["jackpot_id"], "decline_win", reason=body.reason,
                                                  wait_s=query.wait_s, win_id=path.approval_id,
                                                  player_id=body.player_id))
