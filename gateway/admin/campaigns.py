"""Campaign rules, approvals, the kill switch and the delivery log (campaigns/, streams/campaigns.py).

Every edit of a rule is a new version in PostgreSQL, audited, and published (through the outbox,
in the same transaction) as the rule's current version on ``campaign-rules`` with the versions a
manager approved.  An approval is a record of its own, given by a manager who is not the
version's author (four eyes), so a rule's author can never lift the approval gate by writing a
field.  New rules default to dry runs.  The kill switch stops all automation: anyone who may edit
rules may throw it, only a manager may lift it.  Rules are scoped like jackpots: a caller sees and
edits only rules whose jackpots (and brand conditions) are all within their brands; a rule for
every jackpot needs a caller of every brand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jackpot.campaigns.rules import (KILL_SWITCH, MAX_ACTIONS, MAX_INT64, MAX_JACKPOTS, Action, Channel, Conditions,
                                     Rule, Trigger, allowed_webhook_hosts, kill_switch_entry, rule_entry,
                                     webhook_host)
from jackpot.engine.privacy import mask_player
from jackpot.streams import topics as T

from .api import Ctx
from .problems import Problem, from_validation
from .publication import enqueue
from .rbac import Permission as P
from .registry import api, check_scope, jackpot_brands

TAG = "campaigns"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RulePath(_In):
    rule_id: uuid.UUID


class VersionPath(_In):
    rule_id: uuid.UUID
    version: int = Field(ge=1, le=2**31 - 1)


class LogQuery(_In):
    limit: int = Field(100, ge=1, le=1000)
    before_id: int | None = Field(None, ge=1, le=MAX_INT64, description="entries older than this id (paging)")


class RuleBody(_In):
    """A rule as its author writes it: the version is the server's (each save is the next)."""

    name: str = Field(min_length=1, max_length=200)
    jackpot_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, min_length=1, max_length=MAX_JACKPOTS, description="None: every jackpot (needs every brand)")
    trigger: Trigger
    conditions: Conditions = Conditions()
    actions: list[Action] = Field(min_length=1, max_length=MAX_ACTIONS)
    enabled: bool = True
    dry_run: bool = Field(True, description="a new rule reports what it would send, and sends nothing")


class KillSwitchBody(_In):
    on: bool
    reason: str = Field(min_length=3, max_length=500)


class RuleView(BaseModel):
    rule: dict[str, Any]
    approved_versions: list[int]
    created_by: str
    created_at: dt.datetime
    deleted: bool = False


class KillSwitchView(BaseModel):
    on: bool
    set_by: str | None = None
    reason: str | None = None
    set_at: dt.datetime | None = None
    in_effect: bool | None = Field(None, description="the switch reached the bus (false: recorded, the outbox "
                                                     "relay is still sending it; 202)")


class LogEntry(BaseModel):
    id: int
    kind: str
    fire_id: str | None
    status: str | None
    entry: dict[str, Any]
    logged_at: dt.datetime


class Preview(BaseModel):
    """The last dry-run fire of a rule: what it would have sent, to whom (masked), and why not."""

    fire_id: str | None
    jackpot_id: str | None = None
    event_at_ms: int | None = None
    audience: int = 0
    reason: str | None = None
    by_channel: dict[str, int] = {}
    refused: dict[str, int] = {}
    sample: list[str] = []


# ------------------------------------------------------------------ scope
async def _check_rule_scope(ctx: Ctx, rule: dict[str, Any]) -> None:
    p = ctx.principal
    assert p is not None
    if p.all_brands:
        return
    if rule.get("jackpot_ids") is None:
        raise Problem(403, "brand-scope", "a rule for every jackpot needs a caller of every brand")
    brands = (rule.get("conditions") or {}).get("brands")
    if brands is not None and not set(brands) <= p.brands:
        raise Problem(403, "brand-scope", "the rule's brand condition names brands outside your scope")
    for jackpot_id in rule["jackpot_ids"]:
        await check_scope(ctx, jackpot_id)


def _in_scope(ctx: Ctx, rule: dict[str, Any], brands_of: dict[str, list[str]]) -> bool:
    """``_check_rule_scope`` for a listing (no query per rule): the same answer, as a filter."""
    p = ctx.principal
    assert p is not None
    if p.all_brands:
        return True
    if rule.get("jackpot_ids") is None:
        return False
    brands = (rule.get("conditions") or {}).get("brands")
    if brands is not None and not set(brands) <= p.brands:
        return False
    return all(p.in_scope(brands_of.get(j) or []) for j in rule["jackpot_ids"])


async def _current(conn: Any, rule_id: str) -> Any:
    return await conn.fetchrow(
        "SELECT rule_id, version, doc, created_by, created_at, deleted FROM campaign_rules WHERE rule_id = $1 "
        "ORDER BY version DESC LIMIT 1", uuid.UUID(rule_id))


async def _editable(ctx: Ctx, conn: Any, rule_id: str) -> Any:
    """The rule's current version, locked against concurrent edits for the caller's transaction;
    404 for no rule (or a deleted one), 403 outside the caller's brands."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"campaign-rule:{rule_id}")
    row = await _current(conn, rule_id)
    if row is None or row["deleted"]:
        raise Problem(404, "not-found", f"rule {rule_id} not found")
    await _check_rule_scope(ctx, _doc(row["doc"]))
    return row


async def _approved(conn: Any, rule_id: str) -> list[int]:
    return [r["version"] for r in await conn.fetch(
        "SELECT version FROM campaign_approvals WHERE rule_id = $1 ORDER BY version", uuid.UUID(rule_id))]


def _view(row: Any, approved: list[int]) -> dict[str, Any]:
    return {"rule": _doc(row["doc"]), "approved_versions": approved, "created_by": row["created_by"],
            "created_at": row["created_at"], "deleted": row["deleted"]}


def _doc(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


async def _publish(ctx: Ctx, conn: Any, rule: Rule | None, rule_id: str, approved: list[int]) -> None:
    """Queue the rule's current version (None: a tombstone) in the caller's transaction."""
    await enqueue(conn, kind="campaign_rule", ref=rule_id, topic=ctx.services.settings.topic(T.CAMPAIGN_RULES.name),
                  key=rule_id.encode(), value=None if rule is None else rule_entry(rule, approved))


async def _save(ctx: Ctx, rule_id: str, body: RuleBody, *, new: bool) -> dict[str, Any]:
    s = ctx.services
    async with s.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"campaign-rule:{rule_id}")
        current = await _current(conn, rule_id)
        if new and current is not None:
            raise Problem(409, "exists", f"rule {rule_id} exists")
        if not new and (current is None or current["deleted"]):
            raise Problem(404, "not-found", f"rule {rule_id} not found")
        if current is not None:
            await _check_rule_scope(ctx, _doc(current["doc"]))  # the caller may edit what it was too
        version = 1 if current is None else current["version"] + 1
        try:
            rule = Rule.model_validate({**body.model_dump(mode="json"), "rule_id": rule_id, "version": version})
        except ValidationError as exc:
            invalid = from_validation(exc, "rule")
            raise Problem(422, "invalid-rule", invalid.detail, errors=invalid.errors) from None
        _check_webhook_hosts(ctx, rule)
        doc = rule.model_dump(mode="json")
        await _check_rule_scope(ctx, doc)
        await conn.execute("INSERT INTO campaign_rules (rule_id, version, doc, created_by) VALUES ($1, $2, $3::jsonb, $4)",
                           uuid.UUID(rule_id), version, _dumps(doc), ctx.actor)
        approved = await _approved(conn, rule_id)
        await _publish(ctx, conn, rule, rule_id, approved)
        await s.trail.record(ctx.principal, action="campaign_rule_saved", jackpot_id=None, request_id=ctx.request_id,
                             before=None if current is None else _doc(current["doc"]), after=doc,
                             detail={"rule_id": rule_id, "version": version}, conn=conn)
        row = await _current(conn, rule_id)
    await s.outbox.kick()
    return _view(row, approved)


def _dumps(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True)


# ------------------------------------------------------------------ rules
@api.op("GET", "/v1/campaigns/rules", summary="Campaign rules in your scope, current versions", tag=TAG,
        permission=P.DASHBOARD_READ, response=list[RuleView])
async def list_campaign_rules(ctx: Ctx) -> list[dict[str, Any]]:
    rows = await ctx.services.pool.fetch(
        "SELECT DISTINCT ON (rule_id) rule_id, version, doc, created_by, created_at, deleted FROM campaign_rules "
        "ORDER BY rule_id, version DESC")
    approvals: dict[str, list[int]] = {}
    for a in await ctx.services.pool.fetch("SELECT rule_id, version FROM campaign_approvals ORDER BY version"):
        approvals.setdefault(str(a["rule_id"]), []).append(a["version"])
    jackpots = {j for r in rows for j in (_doc(r["doc"]).get("jackpot_ids") or [])}
    brands_of = {j: b for j in jackpots if (b := await jackpot_brands(ctx, j)) is not None}
    return [_view(r, approvals.get(str(r["rule_id"]), [])) for r in rows
            if not r["deleted"] and _in_scope(ctx, _doc(r["doc"]), brands_of)]


@api.op("POST", "/v1/campaigns/rules", summary="Create a campaign rule (version 1; a dry run unless said otherwise)",
        tag=TAG, permission=P.CAMPAIGNS_EDIT, body=RuleBody, response=RuleView, status=201)
async def create_campaign_rule(ctx: Ctx, body: RuleBody) -> dict[str, Any]:
    return await _save(ctx, str(uuid.uuid4()), body, new=True)


@api.op("GET", "/v1/campaigns/rules/{rule_id}", summary="A campaign rule: current version and approvals", tag=TAG,
        permission=P.DASHBOARD_READ, path_model=RulePath, response=RuleView)
async def get_campaign_rule(ctx: Ctx, path: RulePath) -> dict[str, Any]:
    row, approved = await _visible(ctx, str(path.rule_id))
    return _view(row, approved)


async def _visible(ctx: Ctx, rule_id: str) -> tuple[Any, list[int]]:
    async with ctx.services.pool.acquire() as conn:
        row = await _current(conn, rule_id)
        if row is None or row["deleted"]:
            raise Problem(404, "not-found", f"rule {rule_id} not found")
        await _check_rule_scope(ctx, _doc(row["doc"]))
        return row, await _approved(conn, rule_id)


@api.op("PUT", "/v1/campaigns/rules/{rule_id}", summary="Edit a campaign rule: saved as its next version", tag=TAG,
        permission=P.CAMPAIGNS_EDIT, path_model=RulePath, body=RuleBody, response=RuleView)
async def edit_campaign_rule(ctx: Ctx, path: RulePath, body: RuleBody) -> dict[str, Any]:
    return await _save(ctx, str(path.rule_id), body, new=False)


@api.op("DELETE", "/v1/campaigns/rules/{rule_id}", summary="Delete a campaign rule (it stops firing; its log stays)",
        tag=TAG, permission=P.CAMPAIGNS_EDIT, path_model=RulePath, response=None, status=204)
async def delete_campaign_rule(ctx: Ctx, path: RulePath) -> None:
    rule_id = str(path.rule_id)
    s = ctx.services
    async with s.pool.acquire() as conn, conn.transaction():
        row = await _editable(ctx, conn, rule_id)
        await conn.execute("UPDATE campaign_rules SET deleted = true WHERE rule_id = $1", path.rule_id)
        await _publish(ctx, conn, None, rule_id, [])
        await s.trail.record(ctx.principal, action="campaign_rule_deleted", jackpot_id=None, request_id=ctx.request_id,
                             before=_doc(row["doc"]), detail={"rule_id": rule_id}, conn=conn)
    await s.outbox.kick()


@api.op("POST", "/v1/campaigns/rules/{rule_id}/versions/{version}/approve",
        summary="Approve a rule version for audiences over the threshold (a manager, not its author)", tag=TAG,
        permission=P.CAMPAIGNS_APPROVE, path_model=VersionPath, response=RuleView)
async def approve_campaign_rule(ctx: Ctx, path: VersionPath) -> dict[str, Any]:
    rule_id = str(path.rule_id)
    s = ctx.services
    async with s.pool.acquire() as conn, conn.transaction():
        current = await _editable(ctx, conn, rule_id)
        target = await conn.fetchrow("SELECT doc, created_by FROM campaign_rules WHERE rule_id = $1 AND version = $2",
                                     path.rule_id, path.version)
        if target is None:
            raise Problem(404, "not-found", f"rule {rule_id} has no version {path.version}")
        authors = {r["created_by"] for r in await conn.fetch(
            "SELECT created_by FROM campaign_rules WHERE rule_id = $1", path.rule_id)}
        if ctx.actor in authors:  # any version: a re-save by someone else does not launder one's own content
            raise Problem(403, "four-eyes", "a rule is approved by someone who wrote none of its versions")
        first = await conn.fetchval("INSERT INTO campaign_approvals (rule_id, version, approved_by) VALUES ($1, $2, $3) "
                                    "ON CONFLICT DO NOTHING RETURNING approved_by", path.rule_id, path.version, ctx.actor)
        if first is None:  # approved before: one approval per version, and the trail names who gave it
            by = await conn.fetchval("SELECT approved_by FROM campaign_approvals WHERE rule_id = $1 AND version = $2",
                                     path.rule_id, path.version)
            raise Problem(409, "already-approved", f"version {path.version} of rule {rule_id} was approved by {by}")
        approved = await _approved(conn, rule_id)
        await _publish(ctx, conn, Rule.model_validate(_doc(current["doc"])), rule_id, approved)
        await s.trail.record(ctx.principal, action="campaign_rule_approved", jackpot_id=None, request_id=ctx.request_id,
                             detail={"rule_id": rule_id, "version": path.version}, conn=conn)
    await s.outbox.kick()
    return _view(current, approved)


def _check_webhook_hosts(ctx: Ctx, rule: Rule) -> None:
    """A webhook may only aim at the partners' hosts the campaigns process delivers to
    (``JACKPOT_CAMPAIGN_WEBHOOK_HOSTS``): refused here, not at every fire."""
    allowed = allowed_webhook_hosts(ctx.services.settings.campaign_webhook_hosts)
    for i, action in enumerate(rule.actions):
        host = webhook_host(str(action.target))
        if action.channel is Channel.WEBHOOK and host not in allowed:
            raise Problem(422, "invalid-rule", f"actions.{i}.target: webhook host {host!r} "
                          f"is not among the allowed partner hosts {sorted(allowed)}",
                          errors=[{"location": ["rule", "actions", str(i), "target"], "code": "webhook_host",
                                   "message": "not an allowed partner host"}])


# ------------------------------------------------------------------ log and preview
@api.op("GET", "/v1/campaigns/rules/{rule_id}/log",
        summary="The rule's delivery log: fires, decisions, dry-run reports and deliveries, newest first", tag=TAG,
        permission=P.REPORTS_READ, path_model=RulePath, query=LogQuery, response=list[LogEntry])
async def campaign_rule_log(ctx: Ctx, path: RulePath, query: LogQuery) -> list[dict[str, Any]]:
    await _visible(ctx, str(path.rule_id))
    rows = await ctx.services.pool.fetch(
        "SELECT id, kind, fire_id, status, doc, logged_at FROM campaign_log WHERE rule_id = $1 "
        "AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3", str(path.rule_id), query.before_id, query.limit)
    # decisions and deliveries name their fire, the fire its jackpot
    fires = dict(await ctx.services.pool.fetch(
        "SELECT fire_id, doc ->> 'jackpot_id' FROM campaign_log WHERE kind = 'fire' AND fire_id = ANY($1::text[])",
        list({r["fire_id"] for r in rows if r["fire_id"]})))
    seen = _JackpotScope(ctx)
    return [{"id": r["id"], "kind": r["kind"], "fire_id": r["fire_id"], "status": r["status"],
             "entry": _masked(doc), "logged_at": r["logged_at"]}
            for r in rows if await seen.allows((doc := _doc(r["doc"])).get("jackpot_id") or fires.get(r["fire_id"]))]


class _JackpotScope:
    """Whether a log entry's jackpot is in the caller's brands.  A rule's scope is checked on its
    current version, but its log keeps the fires of earlier versions, which may have named
    jackpots of other brands (a rule narrowed since): those entries are left out."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.known: dict[str, bool] = {}

    async def allows(self, jackpot_id: Any) -> bool:
        p = self.ctx.principal
        if p is None or p.all_brands or not jackpot_id:
            return p is not None
        if jackpot_id not in self.known:
            brands = await jackpot_brands(self.ctx, str(jackpot_id))
            self.known[jackpot_id] = brands is not None and p.in_scope(brands)
        return self.known[jackpot_id]


def _masked(entry: dict[str, Any]) -> dict[str, Any]:
    """The log as the API shows it: players masked (the raw ids stay in PostgreSQL for audits),
    also inside free text such as a receiver's error answer, which may echo the body it got."""
    player = entry.get("player_id")
    out = {k: v for k, v in entry.items() if k != "player_id"}
    if player:
        hidden = mask_player(str(player))
        out = {k: v.replace(str(player), hidden) if isinstance(v, str) else v for k, v in out.items()}
    return out


@api.op("GET", "/v1/campaigns/rules/{rule_id}/preview",
        summary="Dry-run preview: what the rule's last dry-run fire would have sent (audience, channels, sample)",
        tag=TAG, permission=P.DASHBOARD_READ, path_model=RulePath, response=Preview)
async def campaign_rule_preview(ctx: Ctx, path: RulePath) -> dict[str, Any]:
    rule_id = str(path.rule_id)
    await _visible(ctx, rule_id)
    pool = ctx.services.pool
    seen = _JackpotScope(ctx)
    fire = None
    for row in await pool.fetch("SELECT fire_id, doc FROM campaign_log WHERE rule_id = $1 AND kind = 'fire' "
                                "AND (doc->>'dry_run')::boolean ORDER BY id DESC LIMIT 50", rule_id):
        if await seen.allows(_doc(row["doc"]).get("jackpot_id")):
            fire = row
            break
    if fire is None:
        return {"fire_id": None, "reason": "no dry-run fire yet: the rule's trigger has not fired in dry-run mode"}
    f = _doc(fire["doc"])
    reports = [_doc(r["doc"]) for r in await pool.fetch(
        "SELECT doc FROM campaign_log WHERE kind = 'dry_run' AND fire_id = $1 ORDER BY id", fire["fire_id"])]
    by_channel: dict[str, int] = {}
    refused: dict[str, int] = dict(f.get("skipped") or {})
    sample = []
    for r in reports:
        channels = r.get("channels") if r.get("player") is not None else [r.get("channel")]
        for c in channels or []:
            by_channel[c] = by_channel.get(c, 0) + 1
        if r.get("player") is not None:
            if channels:
                sample.append(r["player"])
            else:
                refused[r.get("reason") or "refused"] = refused.get(r.get("reason") or "refused", 0) + 1
    return {"fire_id": fire["fire_id"], "jackpot_id": f.get("jackpot_id"), "event_at_ms": f.get("event_at_ms"),
            "audience": f.get("audience", 0), "reason": f.get("reason"), "by_channel": by_channel, "refused": refused,
            "sample": sample[:5]}


# ------------------------------------------------------------------ kill switch
@api.op("GET", "/v1/campaigns/kill-switch", summary="Whether campaign automation is stopped", tag=TAG,
        permission=P.DASHBOARD_READ, response=KillSwitchView)
async def get_kill_switch(ctx: Ctx) -> dict[str, Any]:
    row = await ctx.services.pool.fetchrow("SELECT on_, set_by, reason, set_at FROM campaign_control WHERE name = $1",
                                           KILL_SWITCH)
    if row is None:
        return {"on": False}
    return {"on": row["on_"], "set_by": row["set_by"], "reason": row["reason"], "set_at": row["set_at"]}


@api.op("PUT", "/v1/campaigns/kill-switch",
        summary="Stop all campaign automation at once (on), or let it run again (off: a manager)", tag=TAG,
        permission=P.CAMPAIGNS_EDIT, body=KillSwitchBody, response=KillSwitchView,
        extra_statuses={202: KillSwitchView})
async def set_campaign_kill_switch(ctx: Ctx, body: KillSwitchBody) -> dict[str, Any]:
    p = ctx.principal
    assert p is not None
    if not body.on and not p.can(P.CAMPAIGNS_APPROVE):
        raise Problem(403, "forbidden", f"lifting the kill switch needs permission {P.CAMPAIGNS_APPROVE.value}")
    if not p.all_brands:
        raise Problem(403, "brand-scope", "the kill switch stops every brand's campaigns: it needs a caller of every brand")
    s = ctx.services
    async with s.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO campaign_control (name, on_, set_by, reason) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (name) DO UPDATE SET on_ = EXCLUDED.on_, set_by = EXCLUDED.set_by, reason = EXCLUDED.reason, "
            "set_at = now() RETURNING on_, set_by, reason, set_at", KILL_SWITCH, body.on, ctx.actor, body.reason)
        await enqueue(conn, kind="campaign_control", ref=KILL_SWITCH, topic=s.settings.topic(T.CAMPAIGN_CONTROL.name),
                      key=KILL_SWITCH.encode(), value=kill_switch_entry(body.on, ctx.actor, int(time.time() * 1000)))
        await s.trail.record(ctx.principal, action="campaign_kill_switch", jackpot_id=None, request_id=ctx.request_id,
                             reason=body.reason, after={"on": body.on}, conn=conn)
    try:  # the caller must know whether automation is stopped now, not only recorded
        await s.outbox.flush()
        in_effect = True
    except (asyncio.TimeoutError, KafkaError):
        in_effect = False
        ctx.status = 202
    return {"on": row["on_"], "set_by": row["set_by"], "reason": row["reason"], "set_at": row["set_at"],
            "in_effect": in_effect}
