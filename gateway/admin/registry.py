"""The API's operation registry and the helpers every route module shares."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError

from .api import Api, Ctx
from .commands import Receipt
from .problems import Problem
from .publication import enqueue
from .store import JackpotRecord

api = Api("Jackpot admin API", "1.0.0")


async def scoped(ctx: Ctx, jackpot_id: Any, *, lock_conn=None) -> JackpotRecord:
    """The jackpot's Back Office record, if the caller's brands cover it (else 403)."""
    rec = await ctx.services.jackpots.get(str(jackpot_id), lock_conn, lock=lock_conn is not None)
    assert ctx.principal is not None
    if not ctx.principal.in_scope(rec.brands):
        raise Problem(403, "brand-scope", f"jackpot {rec.jackpot_id} belongs to brands outside your scope")
    return rec


async def jackpot_brands(ctx: Ctx, jackpot_id: str) -> list[str] | None:
    """Brands of any jackpot the engine knows: the Back Office record, else its latest config."""
    row = await ctx.services.pool.fetchrow(
        "SELECT coalesce(a.brands, ARRAY(SELECT jsonb_array_elements_text(v.config -> 'brands'))) AS brands "
        "FROM (SELECT $1::text AS jackpot_id) k "
        "LEFT JOIN admin_jackpots a ON a.jackpot_id = k.jackpot_id "
        "LEFT JOIN jackpot_configs c ON c.jackpot_id = k.jackpot_id "
        "LEFT JOIN jackpot_config_versions v ON v.jackpot_id = c.jackpot_id AND v.version = c.current_version",
        jackpot_id)
    brands = row["brands"] if row else None
    return list(brands) if brands else None


async def check_scope(ctx: Ctx, jackpot_id: str) -> list[str]:
    brands = await jackpot_brands(ctx, jackpot_id)
    if brands is None:
        raise Problem(404, "not-found", f"jackpot {jackpot_id} not found")
    assert ctx.principal is not None
    if not ctx.principal.in_scope(brands):
        raise Problem(403, "brand-scope", f"jackpot {jackpot_id} belongs to brands outside your scope")
    return brands


def confirm_name(rec: JackpotRecord, confirmation: str) -> None:
    if confirmation.strip() != rec.name:
        raise Problem(422, "confirmation-mismatch", "confirmation must repeat the jackpot's name exactly")


def require_published(rec: JackpotRecord) -> None:
    if rec.published_version is None:
        raise Problem(409, "not-live", f"jackpot {rec.jackpot_id} is {rec.status}: it has never been activated")


def result_of(command_id: str, jackpot_id: str, action: str, sent_at, receipt: Receipt | None) -> dict[str, Any]:
    if receipt is None:
        return {"command_id": command_id, "jackpot_id": jackpot_id, "action": action, "state": "pending",
                "sent_at": sent_at, "applied_at": None, "detail": "sent; the engine has not answered yet"}
    return {"command_id": command_id, "jackpot_id": jackpot_id, "action": action,
            "state": "applied" if receipt.outcome == "applied" else "rejected", "sent_at": sent_at,
            "applied_at": receipt.applied_at, "detail": receipt.detail}


SEND_TIMEOUT_S = 10.0


async def send_command(ctx: Ctx, jackpot_id: str, action: str, *, reason: str = "", wait_s: float | None = None,
                       audit_detail: dict[str, Any] | None = None,
                       guard: Callable[[Any], Awaitable[None]] | None = None,
                       record: Callable[[Any, str], Awaitable[None]] | None = None, **fields: Any) -> dict[str, Any]:
    """Record, audit and send one command, then wait (bounded) for the engine's receipt.

    The command's row, its audit entry and its outbox row commit in one transaction before
    anything is sent, so no command reaches the engine unaudited. When the broker does not
    confirm in time the caller gets a 503 problem carrying the command id to poll, and the
    relay delivers the command later (the engine applies a command id once). ``guard`` runs first
    inside that transaction (it may lock rows and raise a Problem), so a precondition checked
    there cannot change before the command is queued; ``record(conn, command_id)`` runs last in it,
    for a row that must exist if and only if the command does.
    """
    s = ctx.services
    command_id, value, _ = s.bus.encode(jackpot_id, action, ctx.actor, reason=reason, **fields)
    after = {"command_id": command_id, **{k: v for k, v in fields.items() if v is not None}}
    async with s.pool.acquire() as conn, conn.transaction():
        if guard is not None:
            await guard(conn)
        await conn.execute(
            "INSERT INTO admin_commands (command_id, jackpot_id, action, actor, request_id, sent_at) "
            "VALUES ($1, $2, $3, $4, $5, now())", uuid.UUID(command_id), jackpot_id, action, ctx.actor,
            ctx.request_id)
        await s.trail.record(ctx.principal, action=f"command:{action}", jackpot_id=jackpot_id,
                             request_id=ctx.request_id, reason=reason, after=after, detail=audit_detail, conn=conn)
        outbox_id = await enqueue(conn, kind="command", ref=command_id, topic=s.bus.topic, key=jackpot_id.encode(),
                                  value=value)
        if record is not None:
            await record(conn, command_id)
    try:
        fut = await deliver(s, command_id, outbox_id)
    except (asyncio.TimeoutError, KafkaError) as exc:
        raise Problem(503, "command-not-confirmed",
                      f"the broker did not confirm {action} in time ({type(exc).__name__}); the command is recorded "
                      f"and will be delivered when the broker answers: check GET /v1/commands/{command_id} rather "
                      "than sending it again", headers={"Retry-After": "5"}, command_id=command_id) from None
    sent_at = dt.datetime.now(dt.timezone.utc)
    timeout = s.settings.admin_command_wait_s if wait_s is None else wait_s
    receipt = await s.receipts.wait(fut, command_id, timeout)
    return result_of(command_id, jackpot_id, action, sent_at, receipt)


async def deliver(s: Any, command_id: str, outbox_id: int) -> asyncio.Future:
    """Send a committed command's outbox row now (bounded) and return the future of the engine's
    receipt, to wait on; raises what the broker raised (the relay delivers the row later)."""
    fut = s.receipts.expect(command_id)
    try:
        await asyncio.wait_for(s.outbox.flush(upto=outbox_id), SEND_TIMEOUT_S)
    except BaseException:
        fut.cancel()
        raise
    return fut


async def await_receipts(ctx: Ctx, results: list[dict[str, Any]], wait_s: float) -> list[dict[str, Any]]:
    """Wait once, up to ``wait_s`` in all, for the receipts of many commands sent with no wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    pending = {r["command_id"]: i for i, r in enumerate(results) if r["state"] == "pending"}
    while pending and loop.time() < deadline:
        await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))
        for cid, i in list(pending.items()):
            receipt = ctx.services.receipts.recent(cid)
            if receipt is not None:
                r = results[i]
                results[i] = result_of(cid, r["jackpot_id"], r["action"], r["sent_at"], receipt)
                del pending[cid]
    return results


def answer_command(ctx: Ctx, result: dict[str, Any]) -> dict[str, Any]:
    """applied: 200; pending: 202 with a Location to poll; rejected by the engine: 409 problem."""
    if result["state"] == "rejected":
        raise Problem(409, "command-rejected", f"the engine refused {result['action']}: {result['detail']}",
                      command_id=result["command_id"], applied_at=result["applied_at"].isoformat())
    if result["state"] == "pending":
        ctx.status = 202
        ctx.headers["Location"] = f"/v1/commands/{result['command_id']}"
    return result


async def gather_commands(ctx: Ctx, sends: list) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*sends))
