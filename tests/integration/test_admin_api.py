"""The admin API on the real stack: document, problems, authentication, lifecycle, idempotency, audit."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from jackpot.sinks.audit import verify

from .test_admin_support import admin, call, full_draft, http, identity  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


async def test_openapi_document_is_served(admin, http):
    status, doc, ctype = await call(http, "GET", f"{admin.url}/openapi.json")
    assert status == 200 and ctype.startswith("application/json")
    assert doc["openapi"].startswith("3.")
    assert "/v1/jackpots/{jackpot_id}/force-drop" in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_missing_unknown_and_revoked_tokens_are_401_problems(admin, http):
    status, body, ctype = await call(http, "GET", f"{admin.url}/v1/me")
    assert status == 401 and ctype.startswith("application/problem+json")
    assert body["type"].endswith("/unauthorized") and body["status"] == 401 and body["request_id"]
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/me", "jpa_not-a-token")
    assert status == 401 and body["detail"] == "unknown token"
    issued = await admin.services.tokens.create(actor="to-revoke", role=__import__(
        "jackpot.gateway.admin.rbac", fromlist=["Role"]).Role.VIEWER, brands=["b"])
    assert (await call(http, "GET", f"{admin.url}/v1/me", issued.secret))[0] == 200
    assert await admin.services.tokens.revoke(issued.token_id)
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/me", issued.secret)
    assert status == 401 and "revoked" in body["detail"]


async def test_bad_requests_are_4xx_problems(admin, http):
    token = await admin.token("manager", [admin.brand("a")])
    url = f"{admin.url}/v1/jackpots"
    cases = [
        dict(data=b"{not json", headers={"Content-Type": "application/json"}),
        dict(data=b"", headers={"Content-Type": "application/json"}),
        dict(json_body={"identity": {"name": ""}}),
        dict(json_body=[1, 2]),
        dict(data=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        dict(json_body={**full_draft([admin.brand("a")]), "levels": {"contribution_rate": 0.015, "levels": []}}),
    ]
    for case in cases:
        status, body, ctype = await call(http, "POST", url, token, **case)
        assert 400 <= status < 500, (case, status, body)
        assert ctype.startswith("application/problem+json"), case
        assert body["status"] == status and body["detail"]
    # text PostgreSQL cannot store (found by the schema fuzzer as a 500): a 422 naming the field
    nul = {"identity": {**identity([admin.brand("a")], "Nul Fortune"), "description": "a\u0000b"}}
    status, body, _ = await call(http, "POST", url, token, json_body=nul)
    assert status == 422 and body["errors"][0]["location"] == ["body", "identity", "description"], body
    status, body, _ = await call(http, "POST", url, token, data=b'{"identity": {"name": "\\ud8aa"}}',
                                 headers={"Content-Type": "application/json"})
    assert status == 422 and "surrogate" in body["detail"], body
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/not-a-uuid", token)
    assert status == 422 and body["errors"][0]["location"] == ["path", "jackpot_id"]
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/nothing-here", token)
    assert status == 404 and body["type"].endswith("/not-found")


async def test_draft_review_activate_and_audit(admin, http):
    brand = admin.brand("life")
    manager = await admin.token("manager", [brand])
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager,
                               json_body={"identity": identity([brand], "Step Fortune")})
    assert status == 201 and jp["status"] == "DRAFT"
    jid = jp["jackpot_id"]
    status, review, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/review", manager)
    assert status == 200 and not review["ready"] and review["missing_steps"] == ["levels", "games"]
    draft = full_draft([brand], "Step Fortune")
    for step in ("levels", "games"):
        status, jp, _ = await call(http, "PUT", f"{admin.url}/v1/jackpots/{jid}/steps/{step}", manager,
                                   json_body=draft[step])
        assert status == 200, jp
    status, review, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/review", manager)
    assert review["ready"] and all(review["checklist"].values()), review
    # an engine rule: splits must sum to 100%
    bad = {**draft["levels"], "levels": [{**draft["levels"]["levels"][0], "contribution_split": "0.5"}]}
    await call(http, "PUT", f"{admin.url}/v1/jackpots/{jid}/steps/levels", manager, json_body=bad)
    status, review, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/review", manager)
    assert not review["checklist"]["splits_sum_to_100_percent"]
    assert any("sum to exactly 100%" in p for p in review["problems"])
    status, body, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/activate", manager,
                                 json_body={"confirm": True})
    assert status == 422 and body["type"].endswith("/not-ready")
    await call(http, "PUT", f"{admin.url}/v1/jackpots/{jid}/steps/levels", manager, json_body=draft["levels"])
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/activate", manager,
                                json_body={"confirm": True, "reason": "launch"})
    assert status == 200 and res["state"] == "published" and res["version"] >= 1
    assert res["jackpot"]["status"] == "ACTIVE"
    conn = await asyncpg.connect(admin.services.settings.database_url)
    try:
        actions = [r["a"] for r in await conn.fetch(
            "SELECT body::jsonb ->> 'action' AS a FROM audit_log WHERE jackpot_id = $1 AND event_type = 'AdminAction' "
            "ORDER BY seq", jid)]
        assert actions[:1] == ["create_draft"] and actions[-1] == "activate:now"
        row = await conn.fetchrow(
            "SELECT body::jsonb AS b FROM audit_log WHERE jackpot_id = $1 AND body::jsonb ->> 'action' = 'activate:now'",
            jid)
        import json

        b = json.loads(row["b"]) if isinstance(row["b"], str) else row["b"]
        assert b["role"] == "manager" and b["brand"] == brand and b["reason"] == "launch"
        assert b["before"]["status"] == "DRAFT" and b["after"]["status"] == "ACTIVE" and b["request_id"]
        assert await conn.fetchval("SELECT status FROM jackpot_config_versions WHERE jackpot_id = $1", jid) == "ACTIVE"
        assert (await verify(conn, admin.services.settings.audit_hmac_key or None)).ok
    finally:
        await conn.close()


async def test_idempotency_key_replays_and_conflicts(admin, http):
    brand = admin.brand("idem")
    manager = await admin.token("manager", [brand])
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"identity": identity([brand], "Idem Fortune")}
    s1, r1, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager, json_body=body, headers=key)
    s2, r2, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager, json_body=body, headers=key)
    assert (s1, s2) == (201, 201) and r1 == r2
    s3, r3, ctype = await call(http, "POST", f"{admin.url}/v1/jackpots", manager,
                               json_body={"identity": identity([brand], "Other")}, headers=key)
    assert s3 == 409 and ctype.startswith("application/problem+json") and r3["type"].endswith("idempotency-key-reused")
    conn = await asyncpg.connect(admin.services.settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM admin_jackpots WHERE name = 'Idem Fortune' AND $1 = ANY(brands)",
                                   brand) == 1
    finally:
        await conn.close()


async def test_brand_scope_and_template_clone(admin, http):
    a, b = admin.brand("ta"), admin.brand("tb")
    manager_a = await admin.token("manager", [a])
    manager_b = await admin.token("manager", [b])
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/from-template", manager_a,
                               json_body={"template": "classic_progressive", "identity": identity([a], "Crown Clone")})
    assert status == 201, jp
    assert [lv["name"] for lv in jp["steps"]["levels"]["levels"]] == ["Grand", "Major", "Minor", "Mini"]
    jid = jp["jackpot_id"]
    status, review, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/review", manager_a)
    assert review["ready"], review
    status, body, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}", manager_b)
    assert status == 403 and body["type"].endswith("/brand-scope")
    status, body, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/from-template", manager_a,
                                 json_body={"template": "classic_progressive", "identity": identity([b], "Not mine")})
    assert status == 403
    status, clone, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/clone", manager_a,
                                  json_body={"name": "Crown Clone RO"})
    assert status == 201 and clone["cloned_from"] == jid and clone["status"] == "DRAFT"
    old_ids = {lv["level_id"] for lv in jp["steps"]["levels"]["levels"]}
    new_ids = {lv["level_id"] for lv in clone["steps"]["levels"]["levels"]}
    assert old_ids.isdisjoint(new_ids)


async def _live_jackpot(admin, http, token: str, brand: str, name: str, **identity_over) -> dict:
    draft = full_draft([brand], name)
    draft["identity"].update(identity_over)
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", token, json_body=draft)
    assert status == 201, jp
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jp['jackpot_id']}/activate", token,
                                json_body={"confirm": True})
    assert status == 200, res
    return res["jackpot"]


async def test_scheduled_activation_is_published_by_the_scheduler(admin, http):
    import datetime as dt

    brand = admin.brand("sched")
    manager = await admin.token("manager", [brand])
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager,
                               json_body=full_draft([brand], "Sched Fortune"))
    jid = jp["jackpot_id"]
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/activate", manager,
                                json_body={"confirm": True, "mode": "schedule", "activate_at": at.isoformat()})
    assert status == 200 and res["state"] == "scheduled" and res["jackpot"]["status"] == "SCHEDULED"
    past = {"confirm": True, "mode": "schedule", "activate_at": "2001-01-01T00:00:00Z"}
    assert (await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/activate", manager, json_body=past))[0] == 422
    from .conftest import wait_for

    async def active():
        return (await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}", manager))[1]["status"] == "ACTIVE"

    await wait_for(active, timeout=30, what="the scheduled activation")
    status, hist, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/history", manager)
    assert hist["versions"][0]["status"] == "ACTIVE"
    assert hist["changes"][0]["state"] == "applied" and hist["changes"][0]["apply_timing"] == "activation"


async def test_edits_return_impact_warnings_and_respect_the_compliance_profile(admin, http):
    brand = admin.brand("edit")
    manager = await admin.token("manager", [brand])
    jp = await _live_jackpot(admin, http, manager, brand, "Edit Fortune")
    jid, levels = jp["jackpot_id"], jp["steps"]["levels"]
    cheaper = {**levels, "levels": [{**levels["levels"][0], "min_bet": "1"}]}
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/changes", manager, json_body={
        "changes": {"levels": cheaper, "games": {"games": [{"game_id": "book-of-dead"}]}},
        "apply": "immediately", "reason": "new market"})
    assert status == 200 and res["state"] == "applied" and res["version"] == 2
    assert {w["code"] for w in res["warnings"]} == {"games_removed_while_active", "eligibility_changed"}
    # a math change under a profile that forbids immediate application (regulatory item 7)
    ro = await _live_jackpot(admin, http, manager, brand, "Ro Fortune", compliance_profile="RO", currencies=["RON"])
    lv = ro["steps"]["levels"]
    raised = {**lv, "contribution_rate": "0.02"}
    body = {"changes": {"levels": raised}, "apply": "immediately", "reason": "more growth"}
    status, prob, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{ro['jackpot_id']}/changes", manager,
                                 json_body=body)
    assert status == 422 and prob["type"].endswith("/apply-immediately-prohibited")
    assert prob["math_changes"] == ["contribution_rate"]
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{ro['jackpot_id']}/changes", manager,
                                json_body={**body, "apply": "next_cycle"})
    assert status == 200 and res["state"] == "pending" and res["version"] is None
    cancel = f"{admin.url}/v1/jackpots/{ro['jackpot_id']}/changes/{res['change_id']}/cancel"
    status, ch, _ = await call(http, "POST", cancel, manager, json_body={"reason": "not now"})
    assert status == 200 and ch["state"] == "cancelled"
    assert (await call(http, "POST", cancel, manager, json_body={"reason": "again"}))[0] == 409


async def test_a_win_max_below_the_live_amount_is_refused(admin, http):
    """Regulatory item 5: a limit may not be set below the pool's current amount (the pool would
    break it at once); the same edit with a limit above the amount applies."""
    brand = admin.brand("winmax")
    manager = await admin.token("manager", [brand])
    jp = await _live_jackpot(admin, http, manager, brand, "Winmax Fortune")
    jid, levels = jp["jackpot_id"], jp["steps"]["levels"]
    level_id = levels["levels"][0]["level_id"]
    conn = await asyncpg.connect(admin.services.settings.database_url)
    try:  # the live amount, as the pool sink records it
        import datetime as dt

        from jackpot.sinks.ledger import month_bounds

        start, end = month_bounds(dt.datetime.now(dt.timezone.utc))
        await conn.execute(f"CREATE TABLE IF NOT EXISTS pool_snapshots_{start:%Y_%m} PARTITION OF pool_snapshots "
                           f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")
        await conn.execute(
            "INSERT INTO pool_snapshots (event_id, snapshot_ts, jackpot_id, level_id, currency, cycle_number, "
            "current_amount, visible_amount, display_state, sequence) "
            "VALUES (gen_random_uuid(), now(), $1, $2, 'EUR', 1, 7500.25, 7500.25, 'normal', 9)", jid, level_id)
    finally:
        await conn.close()
    url = f"{admin.url}/v1/jackpots/{jid}/changes"

    def win_max(value: str) -> dict:
        return {"changes": {"levels": {**levels, "levels": [{**levels["levels"][0], "win_max": value}]}},
                "apply": "immediately", "reason": "cap"}

    status, prob, _ = await call(http, "POST", url, manager, json_body=win_max("7000"))
    assert status == 422 and prob["type"].endswith("/win-max-below-current"), prob
    assert "7500.25" in prob["detail"] and prob["problems"]
    status, res, _ = await call(http, "POST", url, manager, json_body=win_max("8000"))
    assert status == 200 and res["state"] == "applied", res


async def test_live_jackpot_is_only_archived_by_a_forced_drop(admin, http):
    brand = admin.brand("arch")
    manager = await admin.token("manager", [brand])
    jp = await _live_jackpot(admin, http, manager, brand, "Arch Fortune")
    url = f"{admin.url}/v1/jackpots/{jp['jackpot_id']}/archive?wait_s=0"
    status, prob, _ = await call(http, "POST", url, manager,
                                 json_body={"confirmation": "Arch Fortune", "reason": "end of campaign"})
    assert status == 422 and prob["type"].endswith("/disposition-required")
    status, prob, _ = await call(http, "POST", url, manager, json_body={
        "confirmation": "wrong", "disposition": "force_drop", "reason": "end of campaign"})
    assert status == 422 and prob["type"].endswith("/confirmation-mismatch")
    status, res, _ = await call(http, "POST", url, manager, json_body={
        "confirmation": "Arch Fortune", "disposition": "force_drop", "reason": "end of campaign"})
    assert status == 202 and [c["action"] for c in res["commands"]] == ["decommission"]
    assert all(c["state"] == "pending" for c in res["commands"]) and res["jackpot"]["status"] == "ACTIVE"
    status, cmd, _ = await call(http, "GET", f"{admin.url}/v1/commands/{res['commands'][0]['command_id']}", manager)
    assert status == 202 and cmd["action"] == "decommission" and cmd["sent_at"]
    status, prob, _ = await call(http, "POST", url, manager, json_body={
        "confirmation": "Arch Fortune", "disposition": "force_drop", "reason": "end of campaign"})
    assert status == 409 and prob["type"].endswith("/archiving"), prob  # one decommission at a time


async def test_approval_queue_tabs_and_masking(admin, http):
    brand = admin.brand("queue")
    operator = await admin.token("operator", [brand])
    manager = await admin.token("manager", [brand])
    jp = await _live_jackpot(admin, http, manager, brand, "Queue Fortune")
    jid, level = jp["jackpot_id"], jp["steps"]["levels"]["levels"][0]["level_id"]
    conn = await asyncpg.connect(admin.services.settings.database_url)
    try:
        for i, decision in enumerate((None, "declined")):
            await conn.execute(
                "INSERT INTO win_approvals (approval_id, win_id, jackpot_id, level_id, currency, kind, rank, player_id, "
                "amount, threshold, requested_at, decision) VALUES ($1, $2, $3, $4, 'EUR', 'main', 0, 'player-12345', "
                "7000.5, 5000, now(), $5)", f"ap-{jid}-{i}", f"win-{jid}-{i}", jid, level, decision)
    finally:
        await conn.close()
    status, q, _ = await call(http, "GET", f"{admin.url}/v1/approvals?jackpot_id={jid}", operator)
    assert status == 200 and q["tab"] == "for_approval" and len(q["items"]) == 1
    item = q["items"][0]
    assert item["player_id_masked"] == "pl***45" and item["amount"] == "7000.500000"
    status, q, _ = await call(http, "GET", f"{admin.url}/v1/approvals?jackpot_id={jid}&tab=declined_expired", operator)
    assert [i["decision"] for i in q["items"]] == ["declined"]
    status, prob, _ = await call(http, "POST", f"{admin.url}/v1/approvals/{item['approval_id']}/decline", operator,
                                 json_body={})
    assert status == 422  # a decline needs a reason
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/approvals/{item['approval_id']}/approve?wait_s=0",
                                operator, json_body={})
    assert status == 202 and res["action"] == "approve_win"


async def test_rules_meters_finance_and_simulation(admin, http):
    brand = admin.brand("read")
    manager = await admin.token("manager", [brand])
    jp = await _live_jackpot(admin, http, manager, brand, "Read Fortune")
    jid = jp["jackpot_id"]
    status, rules, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/rules", manager)
    assert status == 200 and rules["title"] == "Read Fortune"
    assert [s["key"] for s in rules["sections"]][:7] == ["funding", "seeds", "rtp", "games", "eligibility", "selection",
                                                         "simultaneous"]
    assert (await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/rules?lang=de", manager))[0] == 404
    status, meters, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/meters", manager)
    assert status == 200 and meters["meters"][0]["hit_count"] == 0 and meters["meters"][0]["total_won"] == "0.000000"
    status, fin, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/finance", manager)
    assert status == 200 and fin["expected_value"][0]["avg_prize"] == "5500.000000"
    status, job, _ = await call(http, "POST", f"{admin.url}/v1/simulations", manager,
                                json_body={"jackpot_id": jid, "cycles": 20, "seed": 7})
    assert status == 202 and job["state"] in ("queued", "running", "done")
    from .conftest import wait_for

    async def done():
        st = (await call(http, "GET", f"{admin.url}/v1/simulations/{job['job_id']}", manager))[1]
        return st if st["state"] in ("done", "failed") else None

    st = await wait_for(done, timeout=120, what="the simulation")
    assert st["state"] == "done" and st["report_available"], st
    status, report, _ = await call(http, "GET", f"{admin.url}/v1/simulations/{job['job_id']}/report", manager)
    assert status == 200 and report["scenarios"][0]["levels"][0]["level"] == "Grand"
    other = await admin.token("manager", [admin.brand("read-other")])
    assert (await call(http, "GET", f"{admin.url}/v1/simulations/{job['job_id']}", other))[0] == 403


async def test_scheduled_change_is_applied_at_its_time(admin, http):
    import datetime as dt

    from .conftest import wait_for

    brand = admin.brand("schedchg")
    manager = await admin.token("manager", [brand])
    jp = await _live_jackpot(admin, http, manager, brand, "Later Fortune")
    jid = jp["jackpot_id"]
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    more = {**jp["steps"]["levels"], "house_cut": "0.12"}
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/changes", manager, json_body={
        "changes": {"levels": more}, "apply": "scheduled", "apply_at": at.isoformat(), "reason": "new week"})
    assert status == 200 and res["state"] == "pending" and res["math_changes"] == ["house_cut"]
    assert res["jackpot"]["steps"]["levels"]["house_cut"] == "0.10"  # unchanged until applied

    async def applied():
        doc = (await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}", manager))[1]
        return doc if doc["steps"]["levels"]["house_cut"] == "0.12" else None

    doc = await wait_for(applied, timeout=30, what="the scheduled change")
    assert doc["published_version"] == 2
    status, hist, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/history", manager)
    assert hist["changes"][0]["state"] == "applied" and hist["changes"][0]["apply_timing"] == "scheduled"
    assert [v["version"] for v in hist["versions"]] == [2, 1]


async def test_identity_provider_jwts_beside_cli_tokens(settings, http):
    import datetime as dt

    import jwt
    from aiohttp import web
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from jackpot.gateway.admin.api import SERVICES
    from jackpot.gateway.admin.app import create_admin_app

    from .conftest import free_port

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    issuer = "https://idp.example/realms/ops"
    app = create_admin_app(settings.model_copy(update={"admin_jwt_issuer": issuer, "admin_jwt_public_key": pem}))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}"
        claims = {"sub": "idp-viewer", "iss": issuer, "aud": "jackpot-admin", "role": "viewer", "brands": ["b-idp"],
                  "exp": dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)}
        status, prob, _ = await call(http, "GET", f"{url}/v1/me", jwt.encode(claims, key, algorithm="ES256"))
        assert status == 401 and "identity link" in prob["detail"]  # not enrolled to a person yet
        await app[SERVICES].tokens.link(issuer=issuer, subject="idp-viewer", person="viewer.person")
        status, me, _ = await call(http, "GET", f"{url}/v1/me", jwt.encode(claims, key, algorithm="ES256"))
        assert status == 200 and me["actor"] == "viewer.person" and me["role"] == "viewer"
        status, prob, _ = await call(http, "POST", f"{url}/v1/jackpots", jwt.encode(claims, key, algorithm="ES256"),
                                     json_body={"identity": identity(["b-idp"])})
        assert status == 403  # a viewer from the IdP is still a viewer
        stale = {**claims, "exp": dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)}
        status, prob, _ = await call(http, "GET", f"{url}/v1/me", jwt.encode(stale, key, algorithm="ES256"))
        assert status == 401 and "expired" in prob["detail"].lower()
    finally:
        await runner.cleanup()


async def test_global_pause_reaches_every_live_jackpot(admin, http):
    brand = admin.brand("global")
    manager = await admin.token("manager", [brand])
    root = await admin.token("admin", [], all_brands=True, actor="admin-global")
    jp = await _live_jackpot(admin, http, manager, brand, "Global Fortune")
    scoped_admin = await admin.token("admin", [brand])
    status, prob, _ = await call(http, "POST", f"{admin.url}/v1/system/global-pause?wait_s=0", scoped_admin,
                                 json_body={"reason": "incident 42"})
    assert status == 403 and prob["type"].endswith("/brand-scope")
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/system/global-pause?wait_s=0", root,
                                json_body={"reason": "incident 42"})
    assert status == 200 and res["state"]["mode"] == "paused" and res["state"]["changed_by"] == "admin-global"
    assert any(c["jackpot_id"] == jp["jackpot_id"] and c["action"] == "pause" for c in res["commands"])
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/system/global-resume?wait_s=0", root,
                                json_body={"reason": "incident 42 resolved"})
    assert status == 200 and res["state"]["mode"] == "running"
    assert any(c["jackpot_id"] == jp["jackpot_id"] and c["action"] == "resume" for c in res["commands"])
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/system/emergency-shutdown", root,
                                json_body={"reason": "breach"})
    assert status == 202 and res["co_approval"]["action"] == "emergency_shutdown" and res["state"]["mode"] == "running"


async def test_public_rules_document_for_players(admin, http, settings):
    from aiohttp import web

    from jackpot.gateway.admin.public_rules import create_rules_app

    from .conftest import free_port

    brand = admin.brand("public")
    manager = await admin.token("manager", [brand])
    jp = await _live_jackpot(admin, http, manager, brand, "Public Fortune")
    status, draft, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager,
                                  json_body=full_draft([brand], "Unpublished"))
    outer = web.Application()  # as the ticker gateway mounts it
    outer.add_subapp("/rules/", create_rules_app(settings))
    runner = web.AppRunner(outer)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/rules"
        status, doc, _ = await call(http, "GET", f"{url}/{jp['jackpot_id']}?lang=en")
        assert status == 200 and doc["title"] == "Public Fortune" and doc["language"] == "en"
        assert "1.35%" in next(s["body"] for s in doc["sections"] if s["key"] == "rtp")
        status, doc, _ = await call(http, "GET", f"{url}/{jp['jackpot_id']}?lang=ro")
        assert status == 200 and doc["language"] == "en"  # no Romanian content configured: the default
        for bad in (draft["jackpot_id"], str(uuid.uuid4()), "nope"):
            status, prob, ctype = await call(http, "GET", f"{url}/{bad}")
            assert status == 404 and ctype.startswith("application/problem+json")
        assert (await call(http, "GET", f"{url}/{jp['jackpot_id']}?lang=../x"))[0] == 400
    finally:
        await runner.cleanup()


async def test_a_reversal_is_not_approved_for_a_jackpot_that_is_gone(admin, http):
    """A co-approval opened while the jackpot was live and decided after it was archived is
    refused before it is marked approved (it used to be approved with no command behind it)."""
    import json
    import uuid

    brand = admin.brand("revgone")
    manager = await admin.token("manager", [brand])
    second = await admin.token("admin", [brand], actor="admin-revgone-2")
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager,
                               json_body=full_draft([brand], "Gone Fortune"))
    assert status == 201, jp
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jp['jackpot_id']}/archive", manager,
                                json_body={"confirmation": "Gone Fortune", "reason": "not needed"})
    assert status == 200 and res["jackpot"]["status"] == "ARCHIVED", res
    request_id = uuid.uuid4()
    await admin.services.pool.execute(
        "INSERT INTO admin_co_approvals (request_id, action, jackpot_id, brands, payload, reason, initiated_by, "
        "expires_at, state) VALUES ($1, 'reverse_win', $2, $3, $4, 'chargeback', 'admin-revgone-1', "
        "now() + interval '1 hour', 'pending')", request_id, jp["jackpot_id"], [brand],
        json.dumps({"win_id": "w-1", "level_id": "l", "currency": "EUR", "amount": "1", "wallet_reference": "D"}))
    status, prob, _ = await call(http, "POST", f"{admin.url}/v1/co-approvals/{request_id}/decide", second,
                                 json_body={"approve": True})
    assert status == 409, prob
    state = await admin.services.pool.fetchval("SELECT state FROM admin_co_approvals WHERE request_id = $1", request_id)
    assert state == "pending"
