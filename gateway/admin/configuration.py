"""Jackpot configuration lifecycle: DRAFT through the wizard steps, review, activation (now or
scheduled), clone from a template or another jackpot, edits with apply timing and change-impact
warnings, and archive.

Drafts live only in PostgreSQL: workers never see a configuration before it is activated. Each
activation, applied edit or archive is published through ``publication.py``: the version, its
audit entry and the outbox row for the configs topic commit in one transaction, and the record is
sent after commit (or by the relay), so nothing reaches a worker without its audit entry.

A jackpot id belongs to one jackpot: an id known as a draft, as a published version (from any
publisher) or on the configs topic is never given to a new draft, and level ids are always
assigned by the system.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from decimal import Decimal
from typing import Any

from aiokafka.errors import KafkaError
from pydantic import ValidationError

from jackpot.engine.catalog import DEFAULT_GAMES, PROFILES, TEMPLATES, instantiate
from jackpot.engine.config import JackpotStatus
from jackpot.sinks.budget import activation_refusal, prize_cap_problems

from . import impact, models as m
from .api import Ctx
from .problems import Problem
from .publication import next_cycle_taken, schedule_change, withdraw_change
from .rbac import Permission as P
from .registry import api, confirm_name, deliver, scoped, send_command
from .store import JackpotRecord
from .wizard import (STEP_MODELS, Step, engine_problems, level_id_for, level_ids, normalise_step, review,
                     steps_from_config)

LIVE = ("ACTIVE", "PAUSED")


def view(rec: JackpotRecord) -> dict[str, Any]:
    return {k: getattr(rec, k) for k in m.JackpotView.model_fields}


def _in_scope_or_403(ctx: Ctx, brands: list[str]) -> None:
    assert ctx.principal is not None
    if not ctx.principal.in_scope(brands):
        raise Problem(403, "brand-scope", f"brands {', '.join(brands)} are outside your scope")


def _remap_ids(steps: dict[str, Any], old_id: str | None, new_id: str) -> dict[str, Any]:
    """Give a copied configuration its own level ids (and fix every reference to them)."""
    text = json.dumps(steps)
    for lv in steps.get(Step.LEVELS, {}).get("levels", []):
        old = lv.get("level_id")
        if old:
            text = text.replace(old, level_id_for(new_id, lv["name"]))
    if old_id:
        text = text.replace(old_id, new_id)
    return json.loads(text)


async def _create(ctx: Ctx, *, jackpot_id: str, steps: dict[str, Any], presentation: dict[str, Any],
                  template: str | None = None, cloned_from: str | None = None, action: str) -> dict[str, Any]:
    identity = steps[Step.IDENTITY]
    _in_scope_or_403(ctx, identity["brands"])
    s = ctx.services
    async with s.pool.acquire() as conn, conn.transaction():
        # published from anywhere (recorded in PostgreSQL, or only on the configs topic so far):
        # never take it over from here
        if s.on_bus(jackpot_id) or await conn.fetchval(
                "SELECT 1 FROM jackpot_configs WHERE jackpot_id = $1", jackpot_id):
            raise Problem(409, "already-exists", f"jackpot {jackpot_id} already exists")
        rec = await s.jackpots.insert(conn, jackpot_id=jackpot_id, name=identity["name"], type_=identity["type"],
                                      brands=identity["brands"], steps=steps, presentation=presentation,
                                      actor=ctx.actor, template=template, cloned_from=cloned_from)
        await s.trail.record(ctx.principal, action=action, jackpot_id=jackpot_id, request_id=ctx.request_id,
                             before=None, after=rec.snapshot(), conn=conn)
    ctx.headers["Location"] = f"/v1/jackpots/{jackpot_id}"
    return view(rec)


# ----------------------------------------------------------------------------- create
@api.op("POST", "/v1/jackpots", summary="Create a DRAFT jackpot from wizard steps (step 1 required)",
        tag="configuration", permission=P.JACKPOT_CONFIGURE, body=m.CreateJackpot, response=m.JackpotView,
        status=201)
async def create_jackpot(ctx: Ctx, body: m.CreateJackpot) -> dict[str, Any]:
    jackpot_id = str(body.jackpot_id or uuid.uuid4())
    steps: dict[str, Any] = {}
    for step in (Step.IDENTITY, Step.LEVELS, Step.GAMES, Step.ELIGIBILITY, Step.TRIGGER):
        part = getattr(body, step.value)
        if part is not None:
            steps[step.value] = normalise_step(jackpot_id, step, part)
    presentation = body.presentation.model_dump(mode="json") if body.presentation else {}
    return await _create(ctx, jackpot_id=jackpot_id, steps=steps, presentation=presentation, action="create_draft")


@api.op("POST", "/v1/jackpots/from-template", summary="Create a DRAFT from a campaign template",
        tag="configuration", permission=P.JACKPOT_CONFIGURE, body=m.FromTemplate, response=m.JackpotView,
        status=201)
async def create_from_template(ctx: Ctx, body: m.FromTemplate) -> dict[str, Any]:
    jackpot_id = str(uuid.uuid4())
    identity = normalise_step(jackpot_id, Step.IDENTITY, body.identity)
    presentation: dict[str, Any] = {}
    if body.template in TEMPLATES:
        profile = body.identity.compliance_profile
        profile = PROFILES[profile] if isinstance(profile, str) else profile
        games = [g.model_dump(mode="json") for g in body.games.games] if body.games else DEFAULT_GAMES
        try:
            jp = instantiate(body.template, name=body.identity.name, jackpot_id=jackpot_id,
                             brands=body.identity.brands, currencies=body.identity.currencies, games=games,
                             compliance_profile=profile)
        except ValidationError as exc:
            raise Problem(422, "template-incompatible",
                          "the template does not validate with this identity: " + "; ".join(engine_problems(exc)),
                          problems=engine_problems(exc)) from None
        steps = steps_from_config(jp.model_dump(mode="json"))
    else:
        row = await ctx.services.pool.fetchrow(
            "SELECT steps, presentation, brands FROM admin_templates WHERE name = $1", body.template)
        # a template of brands outside the caller's scope answers as a missing one: names do not leak
        if row is None or not ctx.principal.in_scope(list(row["brands"])):
            raise Problem(404, "not-found", f"template {body.template} not found; see GET /v1/templates")
        steps = _remap_ids(json.loads(row["steps"]), None, jackpot_id)
        presentation = json.loads(row["presentation"])
        if body.games:
            steps[Step.GAMES] = normalise_step(jackpot_id, Step.GAMES, body.games)
    steps[Step.IDENTITY] = identity
    return await _create(ctx, jackpot_id=jackpot_id, steps=steps, presentation=presentation,
                         template=body.template, action="create_from_template")


@api.op("POST", "/v1/jackpots/{jackpot_id}/clone", summary="Clone a jackpot into a new DRAFT",
        tag="configuration", permission=P.JACKPOT_CONFIGURE, path_model=m.JackpotPath, body=m.CloneJackpot,
        response=m.JackpotView, status=201)
async def clone_jackpot(ctx: Ctx, path: m.JackpotPath, body: m.CloneJackpot) -> dict[str, Any]:
    src = await scoped(ctx, path.jackpot_id)
    jackpot_id = str(uuid.uuid4())
    steps = _remap_ids(src.steps, src.jackpot_id, jackpot_id)
    identity = dict(steps[Step.IDENTITY])
    identity["name"] = body.name
    identity["internal_name"] = None
    if body.brands:
        identity["brands"] = list(body.brands)
    if body.currencies:
        identity["currencies"] = list(body.currencies)
    steps[Step.IDENTITY] = normalise_step(jackpot_id, Step.IDENTITY, m.IdentityStep.model_validate(identity))
    return await _create(ctx, jackpot_id=jackpot_id, steps=steps, presentation=src.presentation,
                         cloned_from=src.jackpot_id, action="clone")


# ----------------------------------------------------------------------------- read
@api.op("GET", "/v1/jackpots/{jackpot_id}", summary="A jackpot's Back Office record (wizard data, lifecycle)",
        tag="configuration", permission=P.DASHBOARD_READ, path_model=m.JackpotPath, response=m.JackpotView)
async def get_jackpot(ctx: Ctx, path: m.JackpotPath) -> dict[str, Any]:
    return view(await scoped(ctx, path.jackpot_id))


@api.op("GET", "/v1/jackpots/{jackpot_id}/review", summary="Step 7: checklist and validation problems",
        tag="configuration", permission=P.DASHBOARD_READ, path_model=m.JackpotPath, response=m.Review)
async def review_jackpot(ctx: Ctx, path: m.JackpotPath) -> m.Review:
    rec = await scoped(ctx, path.jackpot_id)
    return review(rec.jackpot_id, rec.steps)[0]


@api.op("GET", "/v1/jackpots/{jackpot_id}/history", summary="Configuration versions and changes",
        tag="configuration", permission=P.DASHBOARD_READ, path_model=m.JackpotPath, response=m.History)
async def jackpot_history(ctx: Ctx, path: m.JackpotPath) -> dict[str, Any]:
    rec = await scoped(ctx, path.jackpot_id)
    s = ctx.services
    return {"versions": await s.jackpots.versions(rec.jackpot_id), "changes": await s.jackpots.changes(rec.jackpot_id)}


# ----------------------------------------------------------------------------- wizard steps
def _step_op(step: Step) -> None:
    model = STEP_MODELS[step]
    content = step == Step.PRESENTATION

    async def save_step(ctx: Ctx, path: m.JackpotPath, body: Any) -> dict[str, Any]:
        s = ctx.services
        async with s.pool.acquire() as conn, conn.transaction():
            rec = await scoped(ctx, path.jackpot_id, lock_conn=conn)
            if content:
                if rec.status == "ARCHIVED":
                    raise Problem(409, "archived", "an archived jackpot cannot be edited")
                after = await s.jackpots.update(conn, rec, ctx.actor, presentation=body.model_dump(mode="json"))
            else:
                if rec.status != "DRAFT":
                    raise Problem(409, "not-a-draft",
                                  f"jackpot is {rec.status}: edit it with POST /v1/jackpots/{{id}}/changes")
                if step == Step.IDENTITY:
                    _in_scope_or_403(ctx, body.brands)
                steps = dict(rec.steps)
                steps[step.value] = normalise_step(rec.jackpot_id, step, body, level_ids(rec.steps))
                extra: dict[str, Any] = {}
                if step == Step.IDENTITY:
                    extra = {"name": body.name, "type": body.type.value, "brands": list(body.brands)}
                after = await s.jackpots.update(conn, rec, ctx.actor, steps=steps, **extra)
            await s.trail.record(ctx.principal, action=f"save_step:{step.value}", jackpot_id=rec.jackpot_id,
                                 request_id=ctx.request_id, before=rec.snapshot(), after=after.snapshot(), conn=conn)
        return view(after)

    save_step.__name__ = f"save_step_{step.value}"
    api.op("PUT", f"/v1/jackpots/{{jackpot_id}}/steps/{step.value}",
           summary=f"Save wizard step '{step.value}'" + (" (content: also on live jackpots)" if content else ""),
           tag="configuration", permission=P.CONTENT_MANAGE if content else P.JACKPOT_CONFIGURE,
           path_model=m.JackpotPath, body=model, response=m.JackpotView)(save_step)


for _step in Step:
    _step_op(_step)


# ----------------------------------------------------------------------------- activation
@api.op("POST", "/v1/jackpots/{jackpot_id}/activate", summary="Launch: activate now or schedule activation",
        tag="configuration", permission=P.JACKPOT_CONFIGURE, path_model=m.JackpotPath, body=m.ActivateBody,
        response=m.ActivateResult)
async def activate_jackpot(ctx: Ctx, path: m.JackpotPath, body: m.ActivateBody) -> dict[str, Any]:
    s = ctx.services
    now = dt.datetime.now(dt.timezone.utc)
    if body.mode == "schedule" and (body.activate_at is None or body.activate_at <= now):
        raise Problem(422, "bad-schedule", "mode 'schedule' needs activate_at in the future")
    if body.mode == "now" and body.activate_at is not None:
        raise Problem(422, "bad-schedule", "activate_at is only for mode 'schedule'")
    async with s.pool.acquire() as conn, conn.transaction():
        rec = await scoped(ctx, path.jackpot_id, lock_conn=conn)
        if rec.status not in ("DRAFT", "SCHEDULED"):
            raise Problem(409, "not-a-draft", f"jackpot is {rec.status}; only a DRAFT or SCHEDULED one can be activated")
        result, jackpot = review(rec.jackpot_id, rec.steps)
        if not result.ready or jackpot is None:
            raise Problem(422, "not-ready", "the jackpot does not pass review: " + "; ".join(
                result.problems or [k for k, v in result.checklist.items() if not v]), review=result.model_dump())
        doc = json.loads(jackpot.model_copy(update={"status": JackpotStatus.ACTIVE}).model_dump_json())
        doc["created_by"] = rec.created_by
        await budget_guard(conn, doc, activation=True)
        await carry_over_guard(ctx, rec.steps, doc)
        await conn.execute("UPDATE admin_config_changes SET state = 'cancelled', detail = 'superseded' "
                           "WHERE jackpot_id = $1 AND state = 'pending' AND apply_timing = 'activation'", rec.jackpot_id)
        change_id = uuid.uuid4()
        if body.mode == "schedule":
            await s.jackpots.add_change(conn, change_id=change_id, jackpot_id=rec.jackpot_id, timing="activation",
                                        apply_at=body.activate_at, state="pending",
                                        config=doc, warnings=[], reason=body.reason, actor=ctx.actor)
            after = await s.jackpots.update(conn, rec, ctx.actor, status="SCHEDULED", activate_at=body.activate_at)
            version, published_at, state = None, None, "scheduled"
        else:
            version = await s.publish_config(conn, doc, ctx.actor)
            await s.jackpots.add_change(conn, change_id=change_id, jackpot_id=rec.jackpot_id, timing="activation",
                                        apply_at=None, state="applied", config=doc, warnings=[],
                                        reason=body.reason, actor=ctx.actor, version=version, applied_at=now)
            after = await s.jackpots.update(conn, rec, ctx.actor, status="ACTIVE", activate_at=None,
                                            published_version=version)
            published_at, state = dt.datetime.now(dt.timezone.utc), "published"
        await s.trail.record(ctx.principal, action=f"activate:{body.mode}", jackpot_id=rec.jackpot_id,
                             request_id=ctx.request_id, reason=body.reason or None, before=rec.snapshot(),
                             after=after.snapshot(), detail={"version": version}, conn=conn)
    if version is not None:
        await s.outbox.kick()
    return {"jackpot": view(after), "version": version, "state": state, "published_at": published_at}


async def carry_over_guard(ctx: Ctx, steps: dict[str, Any], doc: dict[str, Any]) -> None:
    """A campaign's ``carry_over_to`` names a jackpot in the caller's scope that serves its brands
    and currencies (engine/balances.py sends its players' money there at the campaign's end)."""
    target_id = (doc.get("schedule") or {}).get("carry_over_to")
    if not target_id:
        return
    try:
        target = await scoped(ctx, target_id)
    except Problem as p:
        if p.status == 404:
            raise Problem(422, "carry-over-target-unknown", f"carry_over_to: no jackpot {target_id}") from None
        raise
    problem = receiving_problem(steps, target.steps)
    if problem:
        raise Problem(422, "carry-over-" + problem[0], f"carry_over_to: jackpot {target_id} {problem[1]}")


async def budget_guard(conn: Any, doc: dict[str, Any], *, activation: bool) -> None:
    """Budget Constraint Mode (sinks/budget.py): no level may pay more than the currency's maximum
    single prize; no activation while a currency's monthly cost is over its limit and the operator
    chose to pause activations then."""
    capped = await prize_cap_problems(conn, doc)
    if capped:
        raise Problem(422, "budget-max-single-prize", "; ".join(capped), problems=capped)
    if activation:
        why = await activation_refusal(conn, list(doc.get("currencies") or []), dt.datetime.now(dt.timezone.utc))
        if why:
            raise Problem(409, "budget-exceeded", why)


# ----------------------------------------------------------------------------- edits
async def _live_context(ctx: Ctx, jackpot_id: str, active_window: int) -> tuple[dict[tuple[str, str], Decimal], int]:
    pool = ctx.services.pool
    rows = await pool.fetch(
        "SELECT DISTINCT ON (level_id, currency) level_id, currency::text AS currency, current_amount "
        "FROM pool_snapshots WHERE jackpot_id = $1 ORDER BY level_id, currency, snapshot_ts DESC", jackpot_id)
    amounts = {(r["level_id"], r["currency"]): r["current_amount"] for r in rows}
    players = await pool.fetchval(
        "SELECT count(DISTINCT player_id) FROM contributions WHERE jackpot_id = $1 "
        "AND bet_ts >= now() - make_interval(secs => $2)", jackpot_id, float(active_window))
    return amounts, int(players or 0)


@api.op("POST", "/v1/jackpots/{jackpot_id}/changes",
        summary="Edit a jackpot: apply immediately, next cycle or scheduled; returns change-impact warnings",
        tag="configuration", permission=P.JACKPOT_CONFIGURE, path_model=m.JackpotPath, body=m.ChangeBody,
        response=m.ChangeResult)
async def change_jackpot(ctx: Ctx, path: m.JackpotPath, body: m.ChangeBody) -> dict[str, Any]:
    s = ctx.services
    now = dt.datetime.now(dt.timezone.utc)
    if body.apply == "scheduled" and (body.apply_at is None or body.apply_at <= now):
        raise Problem(422, "bad-schedule", "apply 'scheduled' needs apply_at in the future")
    if body.apply != "scheduled" and body.apply_at is not None:
        raise Problem(422, "bad-schedule", "apply_at is only for apply 'scheduled'")
    given = body.changes.model_fields_set
    if not given:
        raise Problem(422, "empty-change", "changes is empty")
    async with s.pool.acquire() as conn, conn.transaction():
        rec = await scoped(ctx, path.jackpot_id, lock_conn=conn)
        if rec.status in ("ARCHIVED", "SCHEDULED"):
            raise Problem(409, "not-editable", f"a {rec.status} jackpot cannot be edited"
                          + (" (cancel the schedule by activating now, or wait)" if rec.status == "SCHEDULED" else ""))
        steps = dict(rec.steps)
        presentation = rec.presentation
        for name in given:
            part = getattr(body.changes, name)
            if part is None:
                continue
            if name == "presentation":
                presentation = part.model_dump(mode="json")
            elif name == "name":
                steps[Step.IDENTITY] = {**steps[Step.IDENTITY], "name": part}
            else:
                steps[name] = normalise_step(rec.jackpot_id, Step(name), part, level_ids(rec.steps))
        if rec.status == "DRAFT":
            after = await s.jackpots.update(conn, rec, ctx.actor, steps=steps, presentation=presentation,
                                            name=steps[Step.IDENTITY]["name"])
            await s.trail.record(ctx.principal, action="edit_draft", jackpot_id=rec.jackpot_id,
                                 request_id=ctx.request_id, reason=body.reason, before=rec.snapshot(),
                                 after=after.snapshot(), conn=conn)
            return {"change_id": None, "state": "saved", "apply_timing": "immediately", "apply_at": None,
                    "version": None, "math_changes": [], "warnings": [], "jackpot": view(after)}
        old = await s.jackpots.current_config(rec.jackpot_id) or {}
        result, jackpot = review(rec.jackpot_id, steps)
        if jackpot is None:
            raise Problem(422, "invalid-config", "the edited configuration is invalid: " + "; ".join(result.problems),
                          problems=result.problems)
        doc = json.loads(jackpot.model_copy(update={"status": JackpotStatus(old.get("status", "ACTIVE"))}).model_dump_json())
        doc["created_by"] = rec.created_by
        await budget_guard(conn, doc, activation=False)
        await carry_over_guard(ctx, steps, doc)
        math = impact.math_changes(old, doc)
        if await next_cycle_taken(conn, jackpot_id=rec.jackpot_id):
            raise Problem(409, "change-taking-effect", "a next_cycle change of this jackpot was taken at a reseed and "
                          "is being recorded as the published version; edit again in a moment")
        if math and body.apply in ("immediately", "scheduled") \
                and not impact.immediate_math_allowed(doc["compliance_profile"]):
            raise Problem(422, "apply-immediately-prohibited",
                          f"compliance profile {doc['compliance_profile']['jurisdiction_code']} lets math changes "
                          f"({', '.join(math)}) take effect only after the current jackpot is won; use next_cycle",
                          math_changes=math)
        removed = impact.removals(old, doc) if math and body.apply == "next_cycle" else []
        if removed:
            raise Problem(422, "next-cycle-removal", f"a next_cycle change may not remove {', '.join(removed)}: their "
                          "pools hold players' money and run a cycle (decommission the jackpot, or publish the "
                          "removal where the compliance profile allows it at once)", problems=removed)
        amounts, players = await _live_context(ctx, rec.jackpot_id, int(doc.get("active_window_seconds", 60)))
        warns = [w.model_dump() for w in impact.warnings(old, doc, current_amounts=amounts, active_players=players)]
        change_id = uuid.uuid4()
        payload = {"doc": doc, "steps": steps, "presentation": presentation,
                   "cycle_levels": impact.cycle_levels(old, doc) if body.apply == "next_cycle" else []}
        version = sent = None
        # Without a math change there is nothing for "next cycle" to hold back: it applies now.
        applies_now = body.apply == "immediately" or not math and body.apply == "next_cycle"
        below = impact.limits_below_current(doc, amounts) if applies_now else []
        if below:
            raise Problem(422, "win-max-below-current", "a limit may not be set below the current amount "
                          "(the jackpot would break it at once): " + "; ".join(below), problems=below)
        if applies_now:
            version = await s.publish_config(conn, doc, ctx.actor)
            await s.jackpots.add_change(conn, change_id=change_id, jackpot_id=rec.jackpot_id, timing=body.apply,
                                        apply_at=None, state="applied", config=payload, warnings=warns,
                                        reason=body.reason, actor=ctx.actor, version=version, applied_at=now)
            after = await s.jackpots.update(conn, rec, ctx.actor, steps=steps, presentation=presentation,
                                            name=doc["name"], published_version=version)
            state = "applied"
        else:
            await s.jackpots.add_change(conn, change_id=change_id, jackpot_id=rec.jackpot_id, timing=body.apply,
                                        apply_at=body.apply_at, state="pending", config=payload, warnings=warns,
                                        reason=body.reason, actor=ctx.actor)
            if body.apply == "next_cycle":  # the engine takes it at the reseed that ends the cycle
                sent = await schedule_change(conn, rec.jackpot_id, str(change_id), doc, payload["cycle_levels"],
                                             topic=s.bus.topic, actor=ctx.actor)
            after = rec
            state = "pending"
        await s.trail.record(ctx.principal, action=f"change:{body.apply}", jackpot_id=rec.jackpot_id,
                             request_id=ctx.request_id, reason=body.reason, before={"config": old},
                             after={"config": doc, "state": state, "change_id": str(change_id)},
                             detail={"warnings": warns, "math_changes": math}, conn=conn)
    if version is not None or sent is not None:
        await s.outbox.kick()
    return {"change_id": str(change_id), "state": state, "apply_timing": body.apply, "apply_at": body.apply_at,
            "version": version, "math_changes": math, "warnings": warns, "jackpot": view(after)}


@api.op("POST", "/v1/jackpots/{jackpot_id}/changes/{change_id}/cancel", summary="Cancel a pending change",
        tag="configuration", permission=P.JACKPOT_CONFIGURE, path_model=m.ChangePath, body=m.CancelChange,
        response=m.ChangeInfo)
async def cancel_change(ctx: Ctx, path: m.ChangePath, body: m.CancelChange) -> dict[str, Any]:
    s = ctx.services
    withdrawn = None
    async with s.pool.acquire() as conn, conn.transaction():
        rec = await scoped(ctx, path.jackpot_id, lock_conn=conn)
        if await next_cycle_taken(conn, path.change_id):
            raise Problem(409, "already-taking-effect", "the engine took this change at the reseed that ended the "
                          "cycle; it is in effect: publish a new change to alter it")
        row = await conn.fetchrow(
            "UPDATE admin_config_changes SET state = 'cancelled', detail = $3 WHERE change_id = $1 AND jackpot_id = $2 "
            "AND state = 'pending' RETURNING change_id, apply_timing", path.change_id, rec.jackpot_id,
            f"cancelled by {ctx.actor}: {body.reason}")
        if row is None:
            raise Problem(409, "not-pending", f"change {path.change_id} is not a pending change of this jackpot")
        if row["apply_timing"] == "activation":
            await s.jackpots.update(conn, rec, ctx.actor, status="DRAFT", activate_at=None)
        if row["apply_timing"] == "next_cycle":  # withdrawn from the engine too, in the same order as its inputs
            withdrawn = await withdraw_change(conn, rec.jackpot_id, str(path.change_id), topic=s.bus.topic,
                                              actor=ctx.actor)
        await s.trail.record(ctx.principal, action="cancel_change", jackpot_id=rec.jackpot_id,
                             request_id=ctx.request_id, reason=body.reason,
                             after={"change_id": str(path.change_id), "state": "cancelled"}, conn=conn)
    if withdrawn is not None:
        await refused_by_engine(ctx, rec.jackpot_id, *withdrawn)
    return next(c for c in await s.jackpots.changes(rec.jackpot_id) if c["change_id"] == str(path.change_id))


async def refused_by_engine(ctx: Ctx, jackpot_id: str, command_id: str, outbox_id: int) -> None:
    """Send a ``cancel_change`` and wait (bounded) for the engine's answer: a refusal saying the
    change is in effect (taken, or pools already drew a cycle under it) is a 409, and the
    scheduler records the change as applied once taken. No answer in time: the cancellation
    stands as sent, and the same holds if the engine answers later."""
    s = ctx.services
    try:
        fut = await deliver(s, command_id, outbox_id)
    except (asyncio.TimeoutError, KafkaError):
        return  # the relay delivers it; the engine's answer is in the history then
    receipt = await s.receipts.wait(fut, command_id, s.settings.admin_command_wait_s)
    if receipt is not None and receipt.outcome != "applied" and "in effect" in (receipt.detail or ""):
        raise Problem(409, "already-taking-effect", f"the engine refused the cancellation: {receipt.detail}; the "
                      "change stays in effect and is recorded as applied", command_id=command_id)
    # any other refusal ("no pending change": the engine had refused or dropped it): cancelled stands


# ----------------------------------------------------------------------------- templates
@api.op("GET", "/v1/templates", summary="Campaign templates (catalog and saved)", tag="configuration",
        permission=P.DASHBOARD_READ, response=m.TemplateList)
async def list_templates(ctx: Ctx) -> dict[str, Any]:
    items = [{"name": n, "source": "catalog", "type": t.get("type"), "levels": [lv["name"] for lv in t["levels"]]}
             for n, t in TEMPLATES.items()]
    for r in await ctx.services.pool.fetch("SELECT name, steps, brands FROM admin_templates ORDER BY name"):
        if not ctx.principal.in_scope(list(r["brands"])):
            continue
        steps = json.loads(r["steps"])
        items.append({"name": r["name"], "source": "saved", "type": steps.get("identity", {}).get("type"),
                      "levels": [lv["name"] for lv in steps.get("levels", {}).get("levels", [])]})
    return {"items": items}


@api.op("POST", "/v1/jackpots/{jackpot_id}/save-as-template", summary="Save a jackpot's configuration as a template",
        tag="configuration", permission=P.TEMPLATES_MANAGE, path_model=m.JackpotPath, body=m.SaveTemplate,
        response=m.TemplateInfo, status=201)
async def save_template(ctx: Ctx, path: m.JackpotPath, body: m.SaveTemplate) -> dict[str, Any]:
    rec = await scoped(ctx, path.jackpot_id)
    if body.name in TEMPLATES:
        raise Problem(409, "already-exists", f"{body.name} is a catalog template name")
    s = ctx.services
    async with s.pool.acquire() as conn, conn.transaction():
        done = await conn.fetchval(
            "INSERT INTO admin_templates (name, steps, presentation, brands, created_by) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT DO NOTHING RETURNING true",
            body.name, json.dumps(rec.steps), json.dumps(rec.presentation), rec.brands, ctx.actor)
        if not done:
            raise Problem(409, "already-exists", f"template {body.name} already exists")
        await s.trail.record(ctx.principal, action="save_template", jackpot_id=rec.jackpot_id,
                             request_id=ctx.request_id, after={"template": body.name}, conn=conn)
    return {"name": body.name, "source": "saved", "type": rec.type,
            "levels": [lv["name"] for lv in rec.steps.get("levels", {}).get("levels", [])]}


# ----------------------------------------------------------------------------- archive
async def _transfer_target(ctx: Ctx, rec: JackpotRecord, body: m.ArchiveBody) -> str:
    """The jackpot a decommission moves its balances to: live, in the caller's scope, with every
    currency of the retiring one (the engine sends back what it cannot take, but an operator
    should hear it now)."""
    assert ctx.principal is not None
    if not ctx.principal.can(P.MANUAL_ADJUST):  # moving a pool's money is a manual adjustment's business
        raise Problem(403, "forbidden", f"role {ctx.principal.role.value} lacks permission {P.MANUAL_ADJUST.value}: "
                      "moving balances to another jackpot is an Admin's decision")
    if body.transfer_to is None:
        raise Problem(422, "transfer-target-required", "disposition 'transfer' needs transfer_to, a live jackpot")
    if str(body.transfer_to) == rec.jackpot_id:
        raise Problem(422, "transfer-to-itself", "a jackpot's balances cannot move to itself")
    try:
        target = await scoped(ctx, body.transfer_to)
    except Problem as p:
        if p.status == 404:
            raise Problem(422, "transfer-target-unknown", f"no jackpot {body.transfer_to}") from None
        raise
    if target.status not in ("ACTIVE", "PAUSED") or target.published_version is None:
        raise Problem(422, "transfer-target-not-live", f"jackpot {target.jackpot_id} is {target.status}: only a "
                      "live jackpot can take the balances")
    problem = receiving_problem(rec.steps, target.steps)
    if problem:
        raise Problem(422, problem[0], f"jackpot {target.jackpot_id} {problem[1]}")
    return target.jackpot_id


def receiving_problem(source: dict[str, Any], target: dict[str, Any]) -> tuple[str, str] | None:
    """Why a jackpot may not receive another's balances (its players' money): it must serve every
    brand and currency of the other."""
    mine, theirs = source.get(Step.IDENTITY, {}), target.get(Step.IDENTITY, {})
    currencies = set(mine.get("currencies", [])) - set(theirs.get("currencies", []))
    if currencies:
        return "transfer-target-currencies", f"has no pools in {', '.join(sorted(currencies))}"
    brands = set(mine.get("brands", [])) - set(theirs.get("brands", []))
    if brands:
        return "transfer-target-brands", f"does not serve the brands {', '.join(sorted(brands))}"
    return None


@api.op("POST", "/v1/jackpots/{jackpot_id}/archive",
        summary="Archive (decommission): a live jackpot drops everything it holds first, never deleted",
        tag="configuration", permission=P.JACKPOT_CONFIGURE, path_model=m.JackpotPath, body=m.ArchiveBody,
        query=m.WaitQuery, response=m.ArchiveResult, extra_statuses={202: m.ArchiveResult})
async def archive_jackpot(ctx: Ctx, path: m.JackpotPath, body: m.ArchiveBody, query: m.WaitQuery) -> dict[str, Any]:
    """Regulatory item 9. A draft is archived at once. A published jackpot gets one ``decommission``
    command: the engine stops its contributions, drops everything its pools hold (reserve
    included) and archives it once the last win is paid; the Back Office record follows through a
    pending ``archive`` change (``Services.apply_archives``), here when it completes within
    ``wait_s``, else on the scheduler's next pass (202 meanwhile)."""
    s = ctx.services
    rec = await scoped(ctx, path.jackpot_id)
    confirm_name(rec, body.confirmation)
    if rec.status == "ARCHIVED":
        raise Problem(409, "archived", "the jackpot is already archived")
    if rec.published_version is None:
        async with s.pool.acquire() as conn, conn.transaction():
            rec = await scoped(ctx, path.jackpot_id, lock_conn=conn)
            await conn.execute("UPDATE admin_config_changes SET state = 'cancelled', detail = 'archived' "
                               "WHERE jackpot_id = $1 AND state = 'pending'", rec.jackpot_id)
            after = await s.jackpots.update(conn, rec, ctx.actor, status="ARCHIVED", activate_at=None)
            await s.trail.record(ctx.principal, action="archive", jackpot_id=rec.jackpot_id, request_id=ctx.request_id,
                                 reason=body.reason, before=rec.snapshot(), after=after.snapshot(), conn=conn)
        return {"jackpot": view(after), "commands": []}
    if body.disposition == "none":
        raise Problem(422, "disposition-required",
                      "a jackpot that holds players' contributions is not simply cancelled: use disposition "
                      "'force_drop' to end it by a forced drop of everything it holds, or 'transfer' to move "
                      "its balances to another live jackpot")
    target = await _transfer_target(ctx, rec, body) if body.disposition == "transfer" else None
    change_id = str(uuid.uuid4())

    async def no_archive_running(conn: Any) -> None:
        if await conn.fetchval("SELECT 1 FROM admin_config_changes WHERE jackpot_id = $1 AND state = 'pending' "
                               "AND apply_timing = 'archive'", rec.jackpot_id):
            raise Problem(409, "archiving", "the jackpot is already being decommissioned; it is archived when its "
                          "last win is paid")

    async def record_archive(conn: Any, command_id: str) -> None:
        await s.jackpots.add_change(conn, change_id=change_id, jackpot_id=rec.jackpot_id, timing="archive",
                                    apply_at=None, state="pending", config={"command_id": command_id}, warnings=[],
                                    reason=body.reason, actor=ctx.actor)

    deadline = time.monotonic() + query.wait_s if query.wait_s is not None else None
    cmd = await send_command(ctx, rec.jackpot_id, "decommission", reason=body.reason, wait_s=query.wait_s,
                             guard=no_archive_running, record=record_archive, other_jackpot_id=target)
    if cmd["state"] == "rejected":
        await s.pool.execute("UPDATE admin_config_changes SET state = 'cancelled', detail = $2 WHERE change_id = $1",
                             uuid.UUID(change_id), f"the engine refused: {cmd['detail']}")
        raise Problem(409, "decommission-refused", f"the engine refused to decommission: {cmd['detail']}",
                      command_id=cmd["command_id"])
    wait = s.settings.admin_command_wait_s if deadline is None else max(0.0, deadline - time.monotonic())
    done = cmd["state"] == "applied" and await s.wait_archived(rec.jackpot_id, wait)
    if not done:
        ctx.status = 202
    return {"jackpot": view(await s.jackpots.get(rec.jackpot_id)), "commands": [cmd]}
