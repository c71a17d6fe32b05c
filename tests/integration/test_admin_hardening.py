"""Admin API hardening: one person per human across CLI tokens and IdP logins (four-eyes holds),
an emergency shutdown is lifted only by two Admins and nothing resumes during it, the approval
queue filters by brand before its limit, idempotent answers are not replayed across brand scopes,
simulation jobs are bounded, and made-up JWT kids do not make the API hammer the IdP's JWKS."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import asyncpg
import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec

from jackpot.gateway.admin.api import SERVICES
from jackpot.gateway.admin.app import create_admin_app
from jackpot.gateway.admin.rbac import Role

from .conftest import free_port, wait_for
from .test_admin_support import AdminServer, call, full_draft, http  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

ISSUER = "https://idp.example/realms/hardening"


class Jwks:
    """A local identity provider's JWKS endpoint that counts its fetches; ``up`` False answers 503."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.fetches = 0
        self.up = True
        self.url = ""
        self._runner: web.AppRunner | None = None

    def add_key(self, kid: str) -> ec.EllipticCurvePrivateKey:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return self.keys[kid]

    async def _serve(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if not self.up:
            return web.Response(status=503, text="down")
        doc = {"keys": [{**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k.public_key())), "kid": kid, "use": "sig",
                         "alg": "ES256"} for kid, k in self.keys.items()]}
        return web.json_response(doc)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/jwks", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/jwks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def token(self, sub: str, kid: str, *, key: ec.EllipticCurvePrivateKey | None = None, **claims) -> str:
        body = {"sub": sub, "iss": ISSUER, "aud": "jackpot-admin", "role": "admin", "all_brands": True,
                "exp": dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5), **claims}
        return jwt.encode(body, key or self.keys[kid], algorithm="ES256", headers={"kid": kid})


async def _serve_admin(settings, **over) -> tuple[web.AppRunner, AdminServer]:
    app = create_admin_app(settings.model_copy(update={"admin_command_wait_s": 0.0, **over}))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, AdminServer(f"http://127.0.0.1:{port}", app, uuid.uuid4().hex[:8])


@pytest_asyncio.fixture(scope="module")
async def idp():
    server = Jwks()
    server.add_key("k1")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture(scope="module")
async def admin(settings, idp):
    runner, server = await _serve_admin(settings, admin_jwt_issuer=ISSUER, admin_jwt_jwks_url=idp.url,
                                        admin_simulation_max_jobs=1)
    try:
        yield server
    finally:
        await runner.cleanup()


async def _live_jackpot(admin: AdminServer, http, token: str, brand: str) -> dict:
    status, doc, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", token,
                                json_body=full_draft([brand], f"Hardening {uuid.uuid4().hex[:6]}"))
    assert status == 201, doc
    status, act, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{doc['jackpot_id']}/activate", token,
                                json_body={"confirm": True})
    assert status == 200, act
    return doc


async def _db(admin: AdminServer) -> asyncpg.Connection:
    return await asyncpg.connect(admin.services.settings.database_url)


async def test_one_person_with_a_cli_token_and_an_idp_login_is_still_one_person(admin, idp, http):
    person, sub = f"alice-{admin.run}", f"00u9{admin.run}"
    alice_cli = await admin.token("admin", all_brands=True, actor=person.upper())  # canonicalised to lower case
    bob = await admin.token("admin", all_brands=True, actor=f"bob-{admin.run}")
    alice_jwt = idp.token(sub, "k1")
    status, prob, _ = await call(http, "GET", f"{admin.url}/v1/me", alice_jwt)
    assert status == 401 and "identity link" in prob["detail"]  # an identity nobody enrolled is refused
    await admin.services.tokens.link(issuer=ISSUER, subject=sub, person=person)
    status, me, _ = await call(http, "GET", f"{admin.url}/v1/me", alice_jwt)
    assert status == 200 and me["actor"] == person
    with pytest.raises(ValueError):  # one subject per person and issuer
        await admin.services.tokens.link(issuer=ISSUER, subject=f"other-{sub}", person=person)

    brand = admin.brand("fe")
    jp = await _live_jackpot(admin, http, alice_cli, brand)
    status, co, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jp['jackpot_id']}/wins/win-1/void", alice_cli,
                               json_body={"reason": "duplicate payout", "confirmation": "win-1"})
    assert status == 202 and co["initiated_by"] == person
    status, listing, _ = await call(http, "GET", f"{admin.url}/v1/co-approvals", alice_jwt)
    assert [i["can_decide"] for i in listing["items"] if i["request_id"] == co["request_id"]] == [False]
    status, prob, _ = await call(http, "POST", f"{admin.url}/v1/co-approvals/{co['request_id']}/decide?wait_s=0",
                                 alice_jwt, json_body={"approve": True})
    assert status == 403 and prob["type"].endswith("/four-eyes")
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/co-approvals/{co['request_id']}/decide?wait_s=0", bob,
                                json_body={"approve": True})
    assert status == 202 and res["request"]["state"] == "approved" and res["request"]["decided_by"] == f"bob-{admin.run}"

    # self-revoke compares persons too: Alice's IdP login cannot revoke Alice's CLI token
    cli_id = next(str(r["token_id"]) for r in await admin.services.tokens.list() if r["actor"] == person)
    status, prob, _ = await call(http, "POST", f"{admin.url}/v1/tokens/{cli_id}/revoke", alice_jwt,
                                 json_body={"reason": "leaving"})
    assert status == 409 and prob["type"].endswith("/self-revoke")

    conn = await _db(admin)
    try:
        body = json.loads(await conn.fetchval(
            "SELECT body FROM audit_log WHERE event_type = 'AdminAccessDenied' AND body::jsonb ->> 'reason' = "
            "'four-eyes' ORDER BY seq DESC LIMIT 1"))
    finally:
        await conn.close()
    assert body["actor"] == person and body["token_id"] == f"jwt:{ISSUER}#{sub}"  # the person, and the credential


async def test_a_shutdown_is_lifted_only_by_a_second_admin_and_nothing_resumes_during_it(admin, idp, http):
    carol, dave = f"carol-{admin.run}", f"dave-{admin.run}"
    carol_cli = await admin.token("admin", all_brands=True, actor=carol)
    dave_cli = await admin.token("admin", all_brands=True, actor=dave)
    sub = f"00ucarol{admin.run}"
    await admin.services.tokens.link(issuer=ISSUER, subject=sub, person=carol)
    carol_jwt = idp.token(sub, "k1")
    brand = admin.brand("sd")
    operator = await admin.token("operator", [brand])
    jp = await _live_jackpot(admin, http, carol_cli, brand)
    jid, level = jp["jackpot_id"], jp["steps"]["levels"]["levels"][0]["level_id"]

    status, res, _ = await call(http, "POST", f"{admin.url}/v1/system/emergency-shutdown", dave_cli,
                                json_body={"reason": "breach"})
    assert status == 202
    status, res, _ = await call(http, "POST",
                                f"{admin.url}/v1/co-approvals/{res['co_approval']['request_id']}/decide?wait_s=0",
                                carol_cli, json_body={"approve": True})
    assert status in (200, 202) and res["request"]["state"] == "approved"
    assert (await call(http, "GET", f"{admin.url}/v1/system", carol_cli))[1]["mode"] == "shutdown"
    try:
        for body in ({"reason": "back to work"}, {"reason": "one level", "level_id": level}):
            status, prob, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/resume?wait_s=0", operator,
                                         json_body=body)
            assert status == 409 and prob["type"].endswith("/system-shutdown"), prob
        status, prob, _ = await call(http, "POST", f"{admin.url}/v1/system/global-pause?wait_s=0", carol_cli,
                                     json_body={"reason": "downgrade"})
        assert status == 409 and prob["type"].endswith("/system-shutdown")

        status, res, _ = await call(http, "POST", f"{admin.url}/v1/system/global-resume?wait_s=0", carol_cli,
                                    json_body={"reason": "breach contained"})
        assert status == 202 and res["co_approval"]["action"] == "lift_shutdown" and res["commands"] == []
        assert res["state"]["mode"] == "shutdown"
        lift = res["co_approval"]["request_id"]
        status, prob, _ = await call(http, "POST", f"{admin.url}/v1/co-approvals/{lift}/decide?wait_s=0", carol_jwt,
                                     json_body={"approve": True})
        assert status == 403 and prob["type"].endswith("/four-eyes")  # the initiator, with another credential
        assert (await call(http, "GET", f"{admin.url}/v1/system", carol_cli))[1]["mode"] == "shutdown"
        status, res, _ = await call(http, "POST", f"{admin.url}/v1/co-approvals/{lift}/decide?wait_s=0", dave_cli,
                                    json_body={"approve": True})
        assert status in (200, 202) and res["request"]["state"] == "approved"
        assert any(c["jackpot_id"] == jid and c["action"] == "resume" for c in res["commands"])
        assert (await call(http, "GET", f"{admin.url}/v1/system", carol_cli))[1]["mode"] == "running"
        status, _, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/resume?wait_s=0", operator,
                                  json_body={})
        assert status == 202
    finally:  # never leave the module's system shut down for the tests after this one
        conn = await _db(admin)
        try:
            await conn.execute("UPDATE admin_system_state SET mode = 'running'")
        finally:
            await conn.close()


async def test_a_small_brands_wins_are_listed_under_a_busy_brands(admin, http):
    busy, small = admin.brand("busy"), admin.brand("small")
    manager = await admin.token("manager", [busy, small])
    jids = {}
    for brand in (busy, small):
        status, doc, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager,
                                    json_body=full_draft([brand], f"Queue {brand}"))
        jids[brand] = (doc["jackpot_id"], doc["steps"]["levels"]["levels"][0]["level_id"])
    conn = await _db(admin)
    try:
        rows = [(busy, f"busy-{i}", dt.timedelta(0)) for i in range(30)] + [(small, "small-0", dt.timedelta(hours=1))]
        for brand, name, age in rows:
            jid, level = jids[brand]
            await conn.execute(
                "INSERT INTO win_approvals (approval_id, win_id, jackpot_id, level_id, currency, kind, rank, player_id, "
                "amount, threshold, requested_at) VALUES ($1, $2, $3, $4, 'EUR', 'main', 0, 'player-q', 9000, 5000, "
                "now() - $5::interval)", f"{name}-{admin.run}", f"win-{name}-{admin.run}", jid, level, age)
    finally:
        await conn.close()
    small_operator = await admin.token("operator", [small])
    status, q, _ = await call(http, "GET", f"{admin.url}/v1/approvals?limit=5", small_operator)
    assert status == 200 and [i["approval_id"] for i in q["items"]] == [f"small-0-{admin.run}"]
    status, q, _ = await call(http, "GET", f"{admin.url}/v1/approvals?limit=5&brand={small}", manager)
    assert [i["approval_id"] for i in q["items"]] == [f"small-0-{admin.run}"]
    status, q, _ = await call(http, "GET", f"{admin.url}/v1/approvals?limit=5&level_id={jids[small][1]}", manager)
    assert [i["approval_id"] for i in q["items"]] == [f"small-0-{admin.run}"]
    status, q, _ = await call(http, "GET", f"{admin.url}/v1/approvals?limit=5", manager)
    assert len(q["items"]) == 5 and all(i["approval_id"].startswith("busy-") for i in q["items"])


async def test_an_idempotent_answer_is_not_replayed_to_another_brands_token(admin, http):
    person = f"erin-{admin.run}"
    a, b = admin.brand("ia"), admin.brand("ib")
    token_a = await admin.token("manager", [a], actor=person)
    token_b = await admin.token("manager", [b], actor=person)
    token_ab = await admin.token("manager", [a, b], actor=person)
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = full_draft([a], "Idem Brand A")
    s1, r1, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", token_a, json_body=body, headers=key)
    assert s1 == 201
    s2, r2, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", token_b, json_body=body, headers=key)
    assert s2 == 403 and r2["type"].endswith("/brand-scope") and "jackpot_id" not in r2
    s3, r3, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", token_ab, json_body=body, headers=key)
    assert s3 == 201 and r3 == r1  # a scope that covers the original's gets the stored answer
    other = await admin.token("manager", [a])  # another person: another key space, a fresh request
    s4, r4, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", other, json_body=body, headers=key)
    assert s4 == 201 and r4["jackpot_id"] != r1["jackpot_id"]


async def test_simulation_jobs_are_bounded(admin, http):
    manager = await admin.token("manager", [admin.brand("sim")])
    url = f"{admin.url}/v1/simulations"
    status, job, _ = await call(http, "POST", url, manager, json_body={"template": "classic_progressive",
                                                                       "cycles": 300})
    assert status == 202
    async with http.post(url, json={"template": "classic_progressive", "cycles": 10},
                         headers={"Authorization": f"Bearer {manager}"}) as resp:
        prob = await resp.json(content_type=None)
        assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0, prob
        assert resp.headers["Content-Type"].startswith("application/problem+json")

    async def finished(job_id):
        st = (await call(http, "GET", f"{url}/{job_id}", manager))[1]
        return st if st["state"] in ("done", "failed") else None

    assert (await wait_for(lambda: finished(job["job_id"]), timeout=180, what="the first job"))["state"] == "done"
    status, job, _ = await call(http, "POST", url, manager, json_body={"template": "classic_progressive", "cycles": 10})
    assert status == 202  # the slot is free again
    await wait_for(lambda: finished(job["job_id"]), timeout=180, what="the second job")


async def test_unknown_kids_and_an_idp_outage_do_not_refetch_the_jwks_each_time(settings, http):
    idp = Jwks()
    idp.add_key("k1")
    await idp.start()
    runner, server = await _serve_admin(settings, admin_jwt_issuer=ISSUER, admin_jwt_jwks_url=idp.url,
                                        admin_jwt_jwks_min_refetch_s=3)
    try:
        sub = f"00ujwks{server.run}"
        await server.services.tokens.link(issuer=ISSUER, subject=sub, person=f"frank-{server.run}")
        idp.up = False  # the IdP is down: one attempt, not one per request
        for _ in range(4):
            assert (await call(http, "GET", f"{server.url}/v1/me", idp.token(sub, "k1")))[0] == 401
        assert idp.fetches == 1
        idp.up = True
        await asyncio.sleep(3.2)
        status, me, _ = await call(http, "GET", f"{server.url}/v1/me", idp.token(sub, "k1"))
        assert status == 200 and me["actor"] == f"frank-{server.run}" and idp.fetches == 2
        stranger = ec.generate_private_key(ec.SECP256R1())
        for i in range(6):  # made-up kids: at most one refetch per interval (here: none, one just happened)
            token = idp.token(sub, f"made-up-{i}", key=stranger)
            assert (await call(http, "GET", f"{server.url}/v1/me", token))[0] == 401
        assert idp.fetches == 2
        assert (await call(http, "GET", f"{server.url}/v1/me", idp.token(sub, "k1")))[0] == 200  # cached set
        assert idp.fetches == 2
    finally:
        await runner.cleanup()
        await idp.stop()


def test_cli_token_and_enrolment_changes_are_audited(settings):
    from jackpot.admin_cli import admin as admin_cli
    from jackpot.settings import get_settings

    env = settings.to_env()
    runner = CliRunner()
    get_settings.cache_clear()  # the CLI reads its settings once per process: make it read this module's
    try:
        res = runner.invoke(admin_cli, ["token", "create", "--person", "Grace.H", "--role", "viewer", "--brand",
                                        "b-cli", "--created-by", "cli:ops-lead"], env=env)
        assert res.exit_code == 0, res.output
        issued = json.loads(res.output)
        assert issued["actor"] == "grace.h"
        res = runner.invoke(admin_cli, ["identity", "link", "--issuer", ISSUER, "--subject", "00ugrace",
                                        "--person", "grace.h", "--actor", "cli:ops-lead"], env=env)
        assert res.exit_code == 0, res.output
        res = runner.invoke(admin_cli, ["token", "revoke", issued["token_id"], "--reason", "rotated"], env=env)
        assert res.exit_code == 0, res.output
    finally:
        get_settings.cache_clear()

    async def trail():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await conn.fetch("SELECT actor, body FROM audit_log WHERE event_type = 'AdminAction' AND "
                                    "body::jsonb ->> 'action' IN ('create_token', 'link_identity', 'revoke_token') "
                                    "ORDER BY seq")
        finally:
            await conn.close()

    rows = [(r["actor"], json.loads(r["body"])) for r in asyncio.run(trail())]
    mine = [(actor, b["action"]) for actor, b in rows
            if (b.get("after") or {}).get("token_id") == issued["token_id"] or
            (b.get("after") or {}).get("subject") == "00ugrace"]
    assert mine[:2] == [("cli:ops-lead", "create_token"), ("cli:ops-lead", "link_identity")]
    assert mine[2][1] == "revoke_token" and mine[2][0].startswith("cli:")
    assert Role.VIEWER.value == next(b["after"]["role"] for _, b in rows if b["action"] == "create_token"
                                     and b["after"]["token_id"] == issued["token_id"])


async def test_hostile_campaign_bodies_get_4xx_problems_and_an_approval_is_given_once(admin, http):
    brand = admin.brand("camp")
    first, second = f"manager-{uuid.uuid4().hex[:6]}", f"manager-{uuid.uuid4().hex[:6]}"
    manager = await admin.token("manager", [brand], actor=first)
    operator = await admin.token("operator", [brand])
    jp = await _live_jackpot(admin, http, manager, brand)
    url = f"{admin.url}/v1/campaigns/rules"
    rule = {"name": "On Fire", "jackpot_ids": [jp["jackpot_id"]], "trigger": {"kind": "warn_state", "to": ["on_fire"]},
            "actions": [{"channel": "push", "template": "Hot!"}]}
    # nested deeper than the JSON parser goes: a 400 problem, not a 500
    async with http.post(url, data=b"[" * 5000 + b"]" * 5000, headers={
            "Authorization": f"Bearer {operator}", "Content-Type": "application/json"}) as resp:
        prob = await resp.json(content_type=None)
        assert resp.status == 400 and prob["type"].endswith("malformed-json"), prob
    # an amount beyond 64 bits is refused before anything is saved or published
    huge = {**rule, "trigger": {"kind": "pool_threshold", "amount": 10**30, "currency": "EUR"}}
    status, prob, _ = await call(http, "POST", url, operator, json_body=huge)
    assert status == 422 and "less than or equal" in prob["detail"], prob
    # a webhook to a host that is not an allowed partner: refused at the save, with the field named
    hook = {**rule, "actions": [{"channel": "webhook", "template": "x", "target": "https://169.254.169.254/latest"}]}
    status, prob, _ = await call(http, "POST", url, operator, json_body=hook)
    assert status == 422 and prob["errors"][0]["location"] == ["rule", "actions", "0", "target"], prob
    # a rule's validation errors name the field and the reason
    twice = {**rule, "actions": [{"channel": "push", "template": "a"}, {"channel": "push", "template": "b"}]}
    status, prob, _ = await call(http, "POST", url, operator, json_body=twice)
    assert status == 422 and "each player channel once" in prob["detail"] and prob["errors"], prob
    # one approval per version: a second manager's is a 409 naming the first, with no audit entry of its own
    status, saved, _ = await call(http, "POST", url, operator, json_body=rule)
    assert status == 201, saved
    approve = f"{url}/{saved['rule']['rule_id']}/versions/1/approve"
    status, doc, _ = await call(http, "POST", approve, manager)
    assert status == 200 and doc["approved_versions"] == [1], doc
    status, prob, _ = await call(http, "POST", approve, await admin.token("manager", [brand], actor=second))
    assert status == 409 and prob["type"].endswith("already-approved") and first in prob["detail"], prob
    conn = await _db(admin)
    try:
        approvals = dict(await conn.fetch("SELECT actor, count(*) FROM audit_log WHERE event_type = 'AdminAction' "
                                          "AND body::jsonb ->> 'action' = 'campaign_rule_approved' "
                                          "AND actor = ANY($1::text[]) GROUP BY actor", [first, second]))
        assert approvals == {first: 1}
    finally:
        await conn.close()


async def test_a_rules_log_shows_a_brand_scoped_reader_only_its_own_jackpots_fires(admin, http):
    """A rule for two brands' jackpots, narrowed since to one: a reader of that brand sees that
    jackpot's fires and decisions, not the other brand's (jackpot, audience, players, errors)."""
    mine, theirs = admin.brand("log-a"), admin.brand("log-b")
    boss = await admin.token("admin", all_brands=True)
    jp_a = (await _live_jackpot(admin, http, boss, mine))["jackpot_id"]
    jp_b = (await _live_jackpot(admin, http, boss, theirs))["jackpot_id"]
    url = f"{admin.url}/v1/campaigns/rules"
    rule = {"name": "Both", "jackpot_ids": [jp_a, jp_b], "trigger": {"kind": "warn_state", "to": ["on_fire"]},
            "actions": [{"channel": "push", "template": "Hot!"}]}
    status, saved, _ = await call(http, "POST", url, boss, json_body=rule)
    assert status == 201, saved
    rule_id = saved["rule"]["rule_id"]
    conn = await _db(admin)
    try:
        for jp, fire in ((jp_a, f"fire-a-{rule_id}"), (jp_b, f"fire-b-{rule_id}")):
            await conn.execute("INSERT INTO campaign_log (entry_key, rule_id, kind, fire_id, status, doc) VALUES "
                               "($1, $2, 'fire', $3, 'dry_run', $4::jsonb), ($5, $2, 'dry_run', $3, NULL, $6::jsonb)",
                               f"{fire}-f", rule_id, fire, json.dumps({"jackpot_id": jp, "dry_run": True, "audience": 1}),
                               f"{fire}-d", json.dumps({"player": "pl***01", "player_id": f"player-of-{jp}",
                                                        "channels": ["push"]}))
    finally:
        await conn.close()
    status, narrowed, _ = await call(http, "PUT", f"{url}/{rule_id}", boss, json_body={**rule, "jackpot_ids": [jp_a]})
    assert status == 200, narrowed
    viewer = await admin.token("viewer", [mine])
    status, entries, _ = await call(http, "GET", f"{url}/{rule_id}/log", viewer)
    assert status == 200, entries
    assert {e["fire_id"] for e in entries} == {f"fire-a-{rule_id}"} and len(entries) == 2
    assert jp_b not in json.dumps(entries) and "player-of-" not in json.dumps(entries)
    status, preview, _ = await call(http, "GET", f"{url}/{rule_id}/preview", viewer)
    assert status == 200 and preview["jackpot_id"] == jp_a, preview
    # the all-brands caller sees both
    status, entries, _ = await call(http, "GET", f"{url}/{rule_id}/log", boss)
    assert {e["fire_id"] for e in entries} == {f"fire-a-{rule_id}", f"fire-b-{rule_id}"}


async def test_hostile_headers_numbers_zones_and_split_bodies_get_4xx_or_succeed(admin, http):
    from .test_admin_support import LEVELS

    manager = await admin.token("manager", [admin.brand("hostile")])
    url = f"{admin.url}/v1/jackpots"
    # bytes that are not UTF-8 in the token: a 401 like any unknown token, not a 500
    async with http.get(url, headers={"Authorization": "Bearer jpa_\xff\xfe"}) as resp:
        assert resp.status == 401, await resp.text()
    # numbers with exponents of a million: refused at once in their short form, not expanded
    for field, value in (("seed_from", "1e999999"), ("seed_from", "-1e49999999"), ("contribution_split", "1e-1000000")):
        levels = {**LEVELS, "levels": [{**LEVELS["levels"][0], field: value}]}
        draft = {**full_draft([admin.brand("hostile")], f"Hostile {uuid.uuid4().hex[:6]}"), "levels": levels}
        async with http.post(url, json=draft, headers={"Authorization": f"Bearer {manager}"}) as resp:
            body = await resp.read()
            assert resp.status == 422 and len(body) < 20_000 and b"out of range" in body, (field, resp.status, body[:300])
    # a time zone that is a folder of the zone database, or nests past recursion
    for zone in ("America", "a/" * 2000 + "x"):
        draft = full_draft([admin.brand("hostile")], f"Zone {uuid.uuid4().hex[:6]}")
        draft["trigger"] = {"drop_windows": {"timezone": zone}}
        status, prob, _ = await call(http, "POST", url, manager, json_body=draft)
        assert status == 422, prob
    # a body that arrives in two pieces (as after a 100-continue) is read whole

    async def in_pieces():
        raw = json.dumps(full_draft([admin.brand("hostile")], f"Pieces {uuid.uuid4().hex[:6]}")).encode()
        yield raw[:50]
        await asyncio.sleep(0.2)
        yield raw[50:]

    async with http.post(url, data=in_pieces(), headers={"Authorization": f"Bearer {manager}",
                                                         "Content-Type": "application/json"}) as resp:
        assert resp.status == 201, await resp.text()


async def test_a_record_the_bus_would_refuse_is_refused_with_its_request():
    from jackpot.gateway.admin.problems import Problem
    from jackpot.gateway.admin.publication import MAX_RECORD_BYTES, enqueue

    class Conn:
        async def fetchval(self, *args):
            return 1

    assert await enqueue(Conn(), kind="config", ref="j", topic="t", key=b"j", value=b"x" * 1000) == 1
    with pytest.raises(Problem) as refused:
        await enqueue(Conn(), kind="config", ref="j", topic="t", key=b"j", value=b"x" * MAX_RECORD_BYTES)
    assert refused.value.status == 422 and refused.value.kind == "too-large"
