"""The RBAC matrix: every endpoint x every role x own/other brand, with the exact outcome.

Each cell states what must happen: 403 ``forbidden`` when the role lacks the permission, 403
``brand-scope`` when the jackpot belongs to another brand, else the operation's own success
status. The test fails on any difference, and counts unauthorised successes separately (zero).
Commands are sent with ``wait_s=0`` (no worker runs here), so an allowed control answers 202.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import asyncpg
import pytest

from jackpot.gateway.admin.app import openapi_document
from jackpot.gateway.admin.rbac import ROLE_PERMISSIONS, Permission, Role

from .test_admin_support import admin, call, full_draft, http, identity  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

CUSTOM_PERMISSIONS = [Permission.DASHBOARD_READ, Permission.DROP_CONTROL, Permission.AUDIT_READ]
ROLES = ("viewer", "operator", "manager", "admin", "custom")


@dataclass
class World:
    admin: Any
    http: Any
    brands: dict[str, str]  # own / other -> brand id
    tokens: dict[str, str]  # role -> token scoped to the own brand
    initiator: str  # a second cross-brand Admin
    live: dict[str, str]  # own / other -> published jackpot id
    names: dict[str, str]
    level: dict[str, str]
    pair: dict[str, tuple[str, str]] = field(default_factory=dict)  # side -> two levels of a live jackpot

    async def post(self, path: str, body: dict, token: str | None = None) -> dict:
        status, doc, _ = await call(self.http, "POST", f"{self.admin.url}{path}", token or self.initiator,
                                    json_body=body)
        assert status < 300, (path, status, doc)
        return doc


DRAFT_NAME = "Matrix draft"


async def _draft(w: World, side: str) -> dict[str, str]:
    doc = await w.post("/v1/jackpots", full_draft([w.brands[side]], DRAFT_NAME))
    return {"jackpot_id": doc["jackpot_id"]}


async def _scheduled(w: World, side: str) -> dict[str, str]:
    """A draft with a scheduled activation: its pending change."""
    ids = await _draft(w, side)
    at = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).isoformat()
    await w.post(f"/v1/jackpots/{ids['jackpot_id']}/activate", {"confirm": True, "mode": "schedule", "activate_at": at})
    status, hist, _ = await call(w.http, "GET", f"{w.admin.url}/v1/jackpots/{ids['jackpot_id']}/history", w.initiator)
    return {**ids, "change_id": hist["changes"][0]["change_id"]}


async def _live(w: World, side: str) -> dict[str, str]:
    return {"jackpot_id": w.live[side]}


async def _two_levels(w: World, side: str) -> dict[str, str]:
    """A live jackpot with two levels (a transfer needs both); its levels in ``w.pair``."""
    draft = full_draft([w.brands[side]], f"Pair {side} {uuid.uuid4().hex[:6]}")
    grand = {**draft["levels"]["levels"][0], "contribution_split": "0.5"}
    draft["levels"] = {**draft["levels"], "levels": [grand, {**grand, "name": "Major", "display_order": 2}]}
    doc = await w.post("/v1/jackpots", draft)
    await w.post(f"/v1/jackpots/{doc['jackpot_id']}/activate", {"confirm": True})
    w.pair[side] = tuple(lv["level_id"] for lv in doc["steps"]["levels"]["levels"])
    return {"jackpot_id": doc["jackpot_id"]}


async def _approval(w: World, side: str) -> dict[str, str]:
    """A large win waiting for approval, as the event sink records it."""
    approval_id = f"approval-{uuid.uuid4().hex}"
    conn = await asyncpg.connect(w.admin.services.settings.database_url)
    try:
        await conn.execute(
            "INSERT INTO win_approvals (approval_id, win_id, jackpot_id, level_id, currency, kind, rank, player_id, "
            "amount, threshold, requested_at) VALUES ($1, $2, $3, $4, 'EUR', 'main', 0, 'player-rbac', 9000, 5000, now())",
            approval_id, f"win-{uuid.uuid4().hex}", w.live[side], w.level[side])
    finally:
        await conn.close()
    return {"approval_id": approval_id}


async def _co_approval(w: World, side: str) -> dict[str, str]:
    doc = await w.post(f"/v1/jackpots/{w.live[side]}/wins/win-{side}/void",
                       {"reason": "duplicate payout", "confirmation": f"win-{side}"})
    return {"request_id": doc["request_id"]}


async def _command(w: World, side: str) -> dict[str, str]:
    status, doc, _ = await call(w.http, "POST", f"{w.admin.url}/v1/jackpots/{w.live[side]}/pause?wait_s=0",
                                w.initiator, json_body={"reason": "rbac"})
    assert status == 202, doc
    return {"command_id": doc["command_id"]}


async def _simulation(w: World, side: str) -> dict[str, str]:
    doc = await w.post("/v1/simulations", {"jackpot_id": w.live[side], "cycles": 10})
    for _ in range(600):
        status, st, _ = await call(w.http, "GET", f"{w.admin.url}/v1/simulations/{doc['job_id']}", w.initiator)
        if st["state"] in ("done", "failed"):
            assert st["state"] == "done", st
            break
        await asyncio.sleep(0.1)
    return {"job_id": doc["job_id"]}


async def _none(w: World, side: str) -> dict[str, str]:
    return {}


Setup = Callable[[World, str], Awaitable[dict[str, str]]]


@dataclass
class Case:
    method: str
    path: str
    permission: Permission | None
    success: int
    setup: Setup = _none
    body: Callable[[World, str], Any] | None = None
    scoped: bool = True  # False: no brand dimension (lists filter instead)
    query: str = ""


def _name(w: World, side: str) -> str:
    return w.names[side]


P = Permission
CASES = [
    Case("GET", "/v1/me", None, 200, scoped=False),
    Case("GET", "/v1/templates", P.DASHBOARD_READ, 200, scoped=False),
    Case("GET", "/v1/jackpots", P.DASHBOARD_READ, 200, scoped=False),
    Case("GET", "/v1/dashboard", P.DASHBOARD_READ, 200, scoped=False),
    Case("GET", "/v1/system", P.DASHBOARD_READ, 200, scoped=False),
    Case("GET", "/v1/approvals", P.DASHBOARD_READ, 200, scoped=False),
    Case("GET", "/v1/co-approvals", P.VOID_WIN, 200, scoped=False),
    Case("POST", "/v1/jackpots", P.JACKPOT_CONFIGURE, 201,
         body=lambda w, s: {"identity": identity([w.brands[s]], f"New {uuid.uuid4().hex[:6]}")}),
    Case("POST", "/v1/jackpots/from-template", P.JACKPOT_CONFIGURE, 201,
         body=lambda w, s: {"template": "classic_progressive",
                            "identity": identity([w.brands[s]], f"Tpl {uuid.uuid4().hex[:6]}")}),
    Case("POST", "/v1/jackpots/{jackpot_id}/clone", P.JACKPOT_CONFIGURE, 201, _live,
         body=lambda w, s: {"name": f"Clone {uuid.uuid4().hex[:6]}"}),
    Case("GET", "/v1/jackpots/{jackpot_id}", P.DASHBOARD_READ, 200, _live),
    Case("GET", "/v1/jackpots/{jackpot_id}/review", P.DASHBOARD_READ, 200, _draft),
    Case("GET", "/v1/jackpots/{jackpot_id}/history", P.DASHBOARD_READ, 200, _live),
    Case("PUT", "/v1/jackpots/{jackpot_id}/steps/identity", P.JACKPOT_CONFIGURE, 200, _draft,
         body=lambda w, s: identity([w.brands[s]], "Renamed draft")),
    Case("PUT", "/v1/jackpots/{jackpot_id}/steps/levels", P.JACKPOT_CONFIGURE, 200, _draft,
         body=lambda w, s: full_draft([w.brands[s]])["levels"]),
    Case("PUT", "/v1/jackpots/{jackpot_id}/steps/games", P.JACKPOT_CONFIGURE, 200, _draft,
         body=lambda w, s: full_draft([w.brands[s]])["games"]),
    Case("PUT", "/v1/jackpots/{jackpot_id}/steps/eligibility", P.JACKPOT_CONFIGURE, 200, _draft,
         body=lambda w, s: {"accepted_bet_types": ["real"], "active_window_seconds": 90}),
    Case("PUT", "/v1/jackpots/{jackpot_id}/steps/trigger", P.JACKPOT_CONFIGURE, 200, _draft,
         body=lambda w, s: {"distribution_mode": 1, "drop_mode": "range"}),
    Case("PUT", "/v1/jackpots/{jackpot_id}/steps/presentation", P.CONTENT_MANAGE, 200, _live,
         body=lambda w, s: {"content": {"en": {"title": "Fortune", "rules": "Have fun."}}}),
    Case("POST", "/v1/jackpots/{jackpot_id}/activate", P.JACKPOT_CONFIGURE, 200, _draft,
         body=lambda w, s: {"confirm": True, "reason": "go live"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/changes", P.JACKPOT_CONFIGURE, 200, _live,
         body=lambda w, s: {"changes": {"games": {"games": [{"game_id": "starburst", "coefficient": "1.2"},
                                                           {"game_id": "book-of-dead"}]}},
                            "apply": "immediately", "reason": "add a game"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/changes/{change_id}/cancel", P.JACKPOT_CONFIGURE, 200, _scheduled,
         body=lambda w, s: {"reason": "campaign moved"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/save-as-template", P.TEMPLATES_MANAGE, 201, _live,
         body=lambda w, s: {"name": f"tpl_{uuid.uuid4().hex[:10]}"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/archive", P.JACKPOT_CONFIGURE, 200, _draft,
         body=lambda w, s: {"disposition": "none", "confirmation": DRAFT_NAME, "reason": "not needed"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/force-drop", P.DROP_CONTROL, 202, _live, query="?wait_s=0",
         body=lambda w, s: {"level_id": w.level[s], "reason": "end of campaign", "confirmation": _name(w, s)}),
    Case("POST", "/v1/jackpots/{jackpot_id}/delay-drop", P.DROP_CONTROL, 202, _live, query="?wait_s=0",
         body=lambda w, s: {"delay_seconds": 600, "reason": "peak hours later"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/cancel-drop", P.DROP_CONTROL, 202, _live, query="?wait_s=0",
         body=lambda w, s: {"level_id": w.level[s], "reason": "suspicious play"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/pause", P.PAUSE_RESUME, 202, _live, query="?wait_s=0",
         body=lambda w, s: {"reason": "maintenance"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/resume", P.PAUSE_RESUME, 202, _live, query="?wait_s=0",
         body=lambda w, s: {}),
    Case("POST", "/v1/jackpots/{jackpot_id}/no-win", P.NO_WIN_MODE, 202, _live, query="?wait_s=0",
         body=lambda w, s: {"enabled": True, "reason": "pool building"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/adjustments", P.MANUAL_ADJUST, 202, _live, query="?wait_s=0",
         body=lambda w, s: {"level_id": w.level[s], "currency": "EUR", "amount": "12.50", "confirm_amount": "12.50",
                            "adjustment_reason": "OPERATOR_FUNDING", "reason": "top up"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/void", P.VOID_WIN, 202,
         lambda w, s: _live_win(w, s),
         body=lambda w, s: {"reason": "payout error", "confirmation": "win-x"}),
    # an allowed caller gets as far as the ledger, which has no win "win-x": 404
    Case("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/reverse", P.VOID_WIN, 404,
         lambda w, s: _live_win(w, s),
         body=lambda w, s: {"reason": "chargeback", "wallet_reference": "DB-1", "confirmation": "win-x"}),
    Case("POST", "/v1/co-approvals/{request_id}/decide", P.VOID_WIN, 200, _co_approval,
         body=lambda w, s: {"approve": False, "reason": "not justified"}),
    Case("GET", "/v1/commands/{command_id}", P.DASHBOARD_READ, 202, _command),
    Case("GET", "/v1/jackpots/{jackpot_id}/payouts", P.MONITOR_READ, 200, _live),
    Case("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/retry-payout", P.APPROVALS_DECIDE, 202,
         lambda w, s: _live_win(w, s), query="?wait_s=0", body=lambda w, s: {"reason": "wallet is back"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/wins/{win_id}/alternative-payout", P.PAYOUT_RESOLVE, 202,
         lambda w, s: _live_win(w, s), query="?wait_s=0",
         body=lambda w, s: {"reference": "bank transfer 77", "reason": "wallet down", "confirmation": "win-x"}),
    Case("POST", "/v1/jackpots/{jackpot_id}/clear-fault", P.FAULT_CLEAR, 202, _live, query="?wait_s=0",
         body=lambda w, s: {"reason": "ledger checked", "confirmation": _name(w, s)}),
    Case("POST", "/v1/jackpots/{jackpot_id}/transfers", P.MANUAL_ADJUST, 202, _two_levels, query="?wait_s=0",
         body=lambda w, s: {"from_level_id": w.pair[s][0], "to_level_id": w.pair[s][1], "currency": "EUR",
                            "amount": "5", "confirm_amount": "5", "reason": "rebalance"}),
    # a PERSISTENT jackpot never expires: an allowed caller is told so (409), the others never get that far
    Case("POST", "/v1/jackpots/{jackpot_id}/expire", P.JACKPOT_CONFIGURE, 409, _live, query="?wait_s=0",
         body=lambda w, s: {"reason": "campaign over", "confirmation": _name(w, s)}),
    Case("POST", "/v1/approvals/{approval_id}/approve", P.APPROVALS_DECIDE, 202, _approval, query="?wait_s=0",
         body=lambda w, s: {}),
    Case("POST", "/v1/approvals/{approval_id}/decline", P.APPROVALS_DECIDE, 202, _approval, query="?wait_s=0",
         body=lambda w, s: {"reason": "fraud check failed"}),
    Case("GET", "/v1/jackpots/{jackpot_id}/monitor", P.MONITOR_READ, 200, _live),
    Case("GET", "/v1/jackpots/{jackpot_id}/meters", P.REPORTS_READ, 200, _live),
    Case("GET", "/v1/jackpots/{jackpot_id}/finance", P.REPORTS_READ, 200, _live),
    Case("GET", "/v1/jackpots/{jackpot_id}/rules", P.DASHBOARD_READ, 200, _live),
    Case("GET", "/v1/audit", P.AUDIT_READ, 200, _live, query="?jackpot_id={jackpot_id}"),
    Case("POST", "/v1/simulations", P.SIMULATION_RUN, 202, _none,
         body=lambda w, s: {"jackpot_id": w.live[s], "cycles": 10}),
    Case("GET", "/v1/simulations/{job_id}", P.REPORTS_READ, 200, _simulation),
    Case("GET", "/v1/simulations/{job_id}/report", P.REPORTS_READ, 200, _simulation),
    Case("GET", "/v1/tokens", P.RBAC_MANAGE, 200),
    Case("POST", "/v1/tokens/{token_id}/revoke", P.RBAC_MANAGE, 200, lambda w, s: _spare_token(w, s),
         body=lambda w, s: {"reason": "left the company"}),
    # system controls and token administration act on every brand: "own" is a cross-brand token, "other" a brand-scoped one
    Case("POST", "/v1/system/global-pause", P.SYSTEM_CONTROL, 200, body=lambda w, s: {"reason": "incident"}),
    Case("POST", "/v1/system/global-resume", P.SYSTEM_CONTROL, 200, body=lambda w, s: {"reason": "resolved"}),
    Case("POST", "/v1/system/emergency-shutdown", P.SYSTEM_CONTROL, 202, body=lambda w, s: {"reason": "breach"}),
    # budget limits span every brand: an allowed caller needs a cross-brand token too
    Case("GET", "/v1/budget/constraints", P.REPORTS_READ, 200),
    Case("PUT", "/v1/budget/constraints/{currency}", P.SYSTEM_CONTROL, 200, lambda w, s: _currency(),
         body=lambda w, s: {"max_chain_monthly": "100", "reason": "chain budget"}),
]



def _rule_body(w: World, side: str) -> dict:
    return {"name": f"On Fire {side}", "jackpot_ids": [w.live[side]], "trigger": {"kind": "warn_state", "to": ["on_fire"]},
            "actions": [{"channel": "push", "template": "hot"}]}


async def _campaign_rule(w: World, side: str) -> dict[str, str]:
    doc = await w.post("/v1/campaigns/rules", _rule_body(w, side))
    return {"rule_id": doc["rule"]["rule_id"]}


CASES += [
    # campaign rules are scoped by their jackpots; the kill switch spans every brand (a system control)
    Case("GET", "/v1/campaigns/rules", P.DASHBOARD_READ, 200, scoped=False),
    Case("POST", "/v1/campaigns/rules", P.CAMPAIGNS_EDIT, 201, body=_rule_body),
    Case("GET", "/v1/campaigns/rules/{rule_id}", P.DASHBOARD_READ, 200, _campaign_rule),
    Case("PUT", "/v1/campaigns/rules/{rule_id}", P.CAMPAIGNS_EDIT, 200, _campaign_rule, body=_rule_body),
    Case("DELETE", "/v1/campaigns/rules/{rule_id}", P.CAMPAIGNS_EDIT, 204, _campaign_rule),
    Case("POST", "/v1/campaigns/rules/{rule_id}/versions/{version}/approve", P.CAMPAIGNS_APPROVE, 200,
         lambda w, s: _campaign_rule_version(w, s)),
    Case("GET", "/v1/campaigns/rules/{rule_id}/log", P.REPORTS_READ, 200, _campaign_rule),
    Case("GET", "/v1/campaigns/rules/{rule_id}/preview", P.DASHBOARD_READ, 200, _campaign_rule),
    Case("GET", "/v1/campaigns/kill-switch", P.DASHBOARD_READ, 200, scoped=False),
    Case("PUT", "/v1/campaigns/kill-switch", P.CAMPAIGNS_EDIT, 200, body=lambda w, s: {"on": True, "reason": "rbac"}),
]


async def _campaign_rule_version(w: World, side: str) -> dict[str, str]:
    return {**await _campaign_rule(w, side), "version": "1"}  # written by the initiator: any other may approve


SYSTEM = {"/v1/system/global-pause", "/v1/system/global-resume", "/v1/system/emergency-shutdown", "/v1/tokens",
          "/v1/tokens/{token_id}/revoke", "/v1/budget/constraints", "/v1/budget/constraints/{currency}",
          "PUT /v1/campaigns/kill-switch"}  # its state is for any reader to see; throwing it is a system control


def is_system(case: "Case") -> bool:
    return case.path in SYSTEM or f"{case.method} {case.path}" in SYSTEM


async def _currency() -> dict[str, str]:
    return {"currency": "NOK"}  # no jackpot of these tests plays in NOK: a chain budget there changes nothing
PUBLIC = {"/health", "/ready"}


async def _spare_token(w: World, side: str) -> dict[str, str]:
    issued = await w.admin.services.tokens.create(actor="spare", role=Role.VIEWER, brands=[w.brands[side]])
    return {"token_id": issued.token_id}


async def _live_win(w: World, side: str) -> dict[str, str]:
    return {"jackpot_id": w.live[side], "win_id": "win-x"}


def permissions(role: str) -> frozenset[Permission]:
    return frozenset(CUSTOM_PERMISSIONS) if role == "custom" else ROLE_PERMISSIONS[Role(role)]


def test_matrix_covers_every_operation():
    documented = {(m.upper(), p) for p, ops in openapi_document()["paths"].items() for m in ops}
    covered = {(c.method, c.path) for c in CASES} | {("GET", p) for p in PUBLIC}
    assert documented == covered, (documented - covered, covered - documented)
    by_op = {(m.upper(), p): o.get("x-permission") for p, ops in openapi_document()["paths"].items()
             for m, o in ops.items()}
    for c in CASES:
        assert by_op[(c.method, c.path)] == (c.permission.value if c.permission else None), c.path


@pytest.fixture(scope="module")
async def world(admin, http):
    brands = {"own": admin.brand("own"), "other": admin.brand("other")}
    initiator = await admin.token("admin", [], all_brands=True, actor="admin-initiator")
    w = World(admin, http, brands, {}, initiator, {}, {}, {})
    for side in ("own", "other"):
        name = f"Matrix {side} {admin.run}"
        doc = await w.post("/v1/jackpots", full_draft([brands[side]], name))
        await w.post(f"/v1/jackpots/{doc['jackpot_id']}/activate", {"confirm": True})
        w.live[side], w.names[side] = doc["jackpot_id"], name
        w.level[side] = doc["steps"]["levels"]["levels"][0]["level_id"]
    for role in ROLES:
        w.tokens[role] = await admin.token(role, [brands["own"]],
                                           permissions=[p.value for p in CUSTOM_PERMISSIONS] if role == "custom" else None)
    w.tokens["admin-all"] = await admin.token("admin", [], all_brands=True)
    return w


def expected(case: Case, role: str, side: str) -> tuple[int, str | None]:
    if case.permission is not None and case.permission not in permissions(role):
        return 403, "forbidden"
    if is_system(case):
        return (case.success, None) if side == "own" else (403, "brand-scope")
    if side == "other" and case.scoped:
        return 403, "brand-scope"
    return case.success, None


@pytest.mark.parametrize("role", ROLES)
async def test_rbac_matrix(world, role):
    unauthorised, mismatches = [], []
    audited: list[tuple[str, int, str]] = []
    for case in CASES:
        for side in ("own", "other"):
            if not case.scoped and side == "other":
                continue
            token = world.tokens[role]
            if is_system(case) and side == "own" and role == "admin":
                token = world.tokens["admin-all"]  # only Admins get cross-brand tokens here
            params = await case.setup(world, side)
            path = case.path.format(**params) + case.query.format(**params)
            body = case.body(world, side) if case.body else None
            request_id = f"rbac-{uuid.uuid4().hex}"
            status, doc, ctype = await call(world.http, case.method, f"{world.admin.url}{path}", token, json_body=body,
                                            headers={"X-Request-Id": request_id})
            if case.method != "GET" and status < 500:
                audited.append((request_id, status, f"{case.method} {case.path} [{side}]"))
            want, kind = expected(case, role, side)
            if role != "admin" and is_system(case) and side == "own" and case.permission in permissions(role):
                want, kind = 403, "brand-scope"  # only possible for a custom role holding system:control
            if want == 403 and status < 300:
                unauthorised.append(f"{case.method} {path} [{side}] -> {status}")
            if status != want or (kind and not (doc and doc["type"].endswith("/" + kind))):
                mismatches.append(f"{case.method} {case.path} [{side}]: want {want} {kind or ''}, got {status} "
                                  f"{(doc or {}).get('type', '')} {(doc or {}).get('detail', '')}")
            if status >= 400:
                assert ctype.startswith("application/problem+json")
    assert not unauthorised, unauthorised
    assert not mismatches, "\n".join(mismatches)
    # every mutating call is in the audit trail: a change as AdminAction, a refusal as AdminAccessDenied
    conn = await asyncpg.connect(world.admin.services.settings.database_url)
    try:
        rows = await conn.fetch("SELECT event_type, body::jsonb ->> 'request_id' AS rid FROM audit_log "
                                "WHERE body::jsonb ->> 'request_id' = ANY($1)", [a[0] for a in audited])
    finally:
        await conn.close()
    found = {(r["rid"], r["event_type"]) for r in rows}
    missing = [f"{what} -> {status}" for rid, status, what in audited
               if (rid, "AdminAccessDenied" if status == 403 else "AdminAction") not in found and status < 400]
    missing += [f"{what} -> 403 not recorded" for rid, status, what in audited
                if status == 403 and (rid, "AdminAccessDenied") not in found]
    assert not missing, missing


async def test_listing_never_shows_other_brands(world):
    for role in ("viewer", "operator", "manager", "admin"):
        status, doc, _ = await call(world.http, "GET", f"{world.admin.url}/v1/jackpots?limit=500", world.tokens[role])
        assert status == 200
        ids = {i["jackpot_id"] for i in doc["items"]}
        assert world.live["own"] in ids and world.live["other"] not in ids
        assert all(set(i["brands"]) <= {world.brands["own"]} for i in doc["items"])


async def test_four_eyes_initiator_cannot_approve(world):
    co = await _co_approval(world, "own")
    status, doc, _ = await call(world.http, "POST", f"{world.admin.url}/v1/co-approvals/{co['request_id']}/decide",
                                world.initiator, json_body={"approve": True})
    assert status == 403 and doc["type"].endswith("/four-eyes")
    status, doc, _ = await call(world.http, "POST",
                                f"{world.admin.url}/v1/co-approvals/{co['request_id']}/decide?wait_s=0",
                                world.tokens["admin-all"], json_body={"approve": True})
    assert status == 202 and doc["request"]["state"] == "approved"
    assert doc["commands"][0]["action"] == "void_win"
    status, doc, _ = await call(world.http, "POST", f"{world.admin.url}/v1/co-approvals/{co['request_id']}/decide",
                                world.tokens["admin-all"], json_body={"approve": True})
    assert status == 409


async def test_refused_mutations_are_in_the_audit_trail(world):
    conn = await asyncpg.connect(world.admin.services.settings.database_url)
    try:
        before = await conn.fetchval("SELECT count(*) FROM audit_log WHERE event_type = 'AdminAccessDenied'")
        status, _, _ = await call(world.http, "POST", f"{world.admin.url}/v1/jackpots/{world.live['own']}/no-win",
                                  world.tokens["viewer"], json_body={"enabled": True, "reason": "probing"})
        assert status == 403
        row = await conn.fetchrow(
            "SELECT actor, body FROM audit_log WHERE event_type = 'AdminAccessDenied' ORDER BY seq DESC LIMIT 1")
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE event_type = 'AdminAccessDenied'") == before + 1
        import json

        body = json.loads(row["body"])
        assert body["role"] == "viewer" and body["permission"] == "no-win:manage" and body["action"] == "no_win"
    finally:
        await conn.close()
