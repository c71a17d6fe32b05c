"""Campaign automation on the real stack: a jackpot going On Fire reaches the reference receiver
as one push per opted-in, in-segment, active player, signed and keyed; dry runs and rules
awaiting approval send nothing; the kill switch stops delivery; a deadline rule fires from the
campaigns clock; a SIGKILL of the campaigns process mid-campaign loses no action and sends none
twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import aiohttp
import orjson
import pytest
import pytest_asyncio

from jackpot.campaigns.rules import Rule
from jackpot.streams.campaigns import publish_rule
from jackpot.streams.loadgen import produce_bets, produce_player_events
from jackpot.streams.publish import publish_configs

from .conftest import free_port, wait_for
from .helpers import http_ready, one_level_config, read_topic
from .test_admin_support import admin, call, http  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

SECRET = "campaign-test-secret-0123456789"
SEGMENT = "slots-lovers"


def hot_config() -> dict:
    """A level that goes On Fire within 18 bets of 100 EUR (12 EUR each into a pool seeded at 10;
    warn threshold at 50-60% of a 200-220 target, On Fire between it and the target), and not
    before six (82 EUR): six players who bet once each are all active when it does.  Its game is
    its own, so the bets of one test never move another test's jackpot."""
    config = one_level_config(contribution_rate="0.1", house_cut="0")
    config["games"] = [{"game_id": f"slot-{config['jackpot_id'][:8]}", "coefficient": "1.2"}]
    config["levels"][0].update(seed_from="10", seed_to="10", win_from="200", win_to="220", win_max="1000",
                               warn_from="0.5", warn_to="0.6")
    return config


def game(config: dict) -> str:
    return config["games"][0]["game_id"]


def profile(player_id: str, *, consent=("push",), opt_out=False, segments=(SEGMENT,), self_excluded=False) -> tuple:
    return ("PlayerProfile", {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
                              "player_id": player_id, "brand_id": "brand-royal", "segments": list(segments),
                              "marketing_opt_out": opt_out, "consent": list(consent), "self_excluded": self_excluded})


def bet(player_id: str, config: dict, amount: str = "100") -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": player_id,
            "game_id": game(config), "brand_id": "brand-royal", "currency": "EUR", "bet_amount": Decimal(amount),
            "bet_type": "real", "session_id": f"s-{player_id}"}


def on_fire_rule(jackpot_id: str, **over) -> Rule:
    doc = {"rule_id": str(uuid.uuid4()), "version": 1, "name": "On Fire push", "jackpot_ids": [jackpot_id],
           "trigger": {"kind": "warn_state", "to": ["on_fire"]}, "conditions": {"segments": [SEGMENT]},
           "actions": [{"channel": "push", "template": "on-fire"}, {"channel": "lobby_banner", "template": "hot"}],
           "dry_run": False} | over
    return Rule.model_validate(doc)


@pytest.fixture(scope="module")
def receiver(spawn):
    port = free_port()
    proc = spawn("campaign-receiver", "campaign-receiver", "--port", str(port), JACKPOT_CAMPAIGN_SECRET=SECRET)
    base = f"http://127.0.0.1:{port}"
    asyncio.run(http_ready(f"{base}/_control/received", procs=[proc]))
    return base, proc


@pytest.fixture(scope="module")
def engine(settings, spawn, tmp_path_factory, receiver):
    base, _ = receiver
    web = free_port()
    env = dict(JACKPOT_CAMPAIGN_SECRET=SECRET, JACKPOT_CAMPAIGN_ENDPOINT=base, JACKPOT_CAMPAIGN_WEB_PORT=str(web),
               JACKPOT_CAMPAIGN_DATA_DIR=str(tmp_path_factory.mktemp("campaigns-data")),
               JACKPOT_CAMPAIGN_APPROVAL_THRESHOLD="5")  # fires reaching six players need an approved version
    worker = spawn("worker", "worker")
    campaigns = spawn("campaigns", "campaigns", **env)
    return worker, campaigns, web, env


async def received(base: str) -> list[dict]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/_control/received") as r:
        return (await r.json())["received"]


async def campaign_log(settings) -> list[dict]:
    return [orjson.loads(m.value) for m in await read_topic(settings, settings.topic("campaign-log"))]


async def test_on_fire_pushes_each_opted_in_active_player_once_and_nobody_else(settings, spawn, receiver, engine):
    base, _ = receiver
    worker, campaigns, web, _ = engine
    await http_ready(f"http://127.0.0.1:{settings.worker_web_port}/ready", procs=[worker])
    await http_ready(f"http://127.0.0.1:{web}/ready", procs=[campaigns])
    run = uuid.uuid4().hex[:6]
    yes = [f"{run}-in-{i}" for i in range(3)]
    opted_out, no_consent, other_segment = f"{run}-out", f"{run}-noconsent", f"{run}-other"
    await produce_player_events(settings, "player-profiles", [
        *(profile(p) for p in yes), profile(opted_out, opt_out=True), profile(no_consent, consent=()),
        profile(other_segment, segments=("sports",))])
    config = hot_config()
    jackpot_id = config["jackpot_id"]
    rule = on_fire_rule(jackpot_id)
    await publish_rule(settings, rule, [1])  # six active players: over the threshold, approved
    await publish_configs(settings, [config])
    gateway = spawn("gateway", "gateway", JACKPOT_GATEWAY_SMOOTHING="0")
    gw = f"http://{settings.gateway_host}:{settings.gateway_port}"
    await http_ready(f"{gw}/ready", procs=[gateway])
    frames: list[dict] = []
    watch = asyncio.ensure_future(_campaign_frames(gw, frames))
    await asyncio.sleep(2)  # the worker's config view and the rules views have them
    players = [*yes, opted_out, no_consent, other_segment]
    for p in players * 3:  # 226 EUR: past every target, so On Fire came (the drop too, perhaps)
        await produce_bets(settings, [bet(p, config)])

    def pushes(got):
        return [r for r in got if r["path"] == "/push" and r["body"]["rule_id"] == str(rule.rule_id)]

    try:
        got = await wait_for(lambda: _len_at_least(received(base), pushes, 3), timeout=60, what="three pushes")
    except AssertionError:
        for e in await campaign_log(settings):
            print("LOG", e)
        print("RECEIVED", await received(base))
        from .helpers import read_events
        for e in await read_events(settings, settings.topic("jackpot-events"), jackpot_id.encode()):
            print("EV", e["kind"], e["payload_json"][:200])
        raise
    await asyncio.sleep(3)  # nothing else arrives late
    got = await received(base)
    assert sorted(r["body"]["player_id"] for r in pushes(got)) == sorted(yes)
    assert not [r for r in got if r["path"] == "/lobby_banner"]  # surfaces are the gateway's to show
    await wait_for(lambda: frames, timeout=30, what="the lobby banner on the gateway's WebSocket")
    watch.cancel()
    assert [(f["channel"], f["jackpot_id"], f["template"]) for f in frames] == [("lobby_banner", jackpot_id, "hot")]
    assert len({r["key"] for r in got}) == len(got)  # one idempotency key each
    log = await campaign_log(settings)
    refused = {e["player_id"]: e["reason"] for e in log if e["kind"] == "decision" and not e["channels"]}
    assert refused == {opted_out: "opted_out", no_consent: "no_consent", other_segment: "segment"}
    # latency from the warn state change to the receiver, on this machine
    lat = [r["at"] * 1000 - r["body"]["variables"]["event_at_ms"] for r in pushes(got)]
    assert max(lat) < 10_000, lat


async def _campaign_frames(gw: str, frames: list[dict]) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{gw}/ws") as ws:
        async for msg in ws:
            doc = orjson.loads(msg.data)
            if doc.get("type") == "campaign":
                frames.append(doc["campaign"])


async def _len_at_least(got, pick, n):
    items = pick(await got)
    return items if len(items) >= n else None


async def _hot_jackpot_with(settings, rule_for, *, approved=()) -> tuple[Rule, list[str]]:
    """A fresh jackpot with six opted-in active players, driven On Fire under ``rule_for(jackpot)``
    (a Rule, published on the topic; or an admin API call that creates it, given the jackpot id)."""
    run = uuid.uuid4().hex[:6]
    players = [f"{run}-p{i}" for i in range(6)]
    await produce_player_events(settings, "player-profiles", [profile(p) for p in players])
    config = hot_config()
    await publish_configs(settings, [config])
    rule = rule_for(config["jackpot_id"])
    if asyncio.iscoroutine(rule):
        rule = await rule
    else:
        await publish_rule(settings, rule, approved)
    await asyncio.sleep(2)
    for p in players * 3:
        await produce_bets(settings, [bet(p, config)])
    return rule, players


async def _api_rule(admin, http, token: str, jackpot_id: str, **over) -> Rule:
    body = {"name": "On Fire (API)", "jackpot_ids": [jackpot_id], "trigger": {"kind": "warn_state", "to": ["on_fire"]},
            "conditions": {"segments": [SEGMENT]},
            "actions": [{"channel": "push", "template": "on-fire"}, {"channel": "lobby_banner", "template": "hot"}]} | over
    status, doc, _ = await call(http, "POST", f"{admin.url}/v1/campaigns/rules", token, json_body=body)
    assert status == 201, doc
    return Rule.model_validate(doc["rule"])


@pytest_asyncio.fixture(scope="module")
async def tokens(admin):
    return {role: await admin.token(role, ["brand-royal"], actor=f"{role}-campaigns") for role in ("operator", "manager")} | {
        "operator-all": await admin.token("operator", [], all_brands=True, actor="operator-campaigns"),
        "manager-all": await admin.token("manager", [], all_brands=True, actor="manager-campaigns")}


async def test_a_dry_run_reports_exactly_what_it_would_send_and_sends_nothing(settings, receiver, engine, admin, http,
                                                                              tokens):
    """A rule created through the admin API is a dry run unless said otherwise: it goes through
    every check, sends nothing, and its preview shows the audience, channels and a masked sample."""
    base, _ = receiver
    rule, players = await _hot_jackpot_with(settings, lambda jp: _api_rule(admin, http, tokens["operator"], jp))
    assert rule.dry_run and rule.version == 1
    fired = await wait_for(lambda: _fires(settings, rule), timeout=90, what="the dry run's fire in the log")
    # six players: over the approval threshold, which a dry run reports and goes through
    assert [(f["status"], f["audience"], f["reason"]) for f in fired] == [("dry_run", 6, "approval_required_when_live")]

    async def preview():
        status, doc, _ = await call(http, "GET", f"{admin.url}/v1/campaigns/rules/{rule.rule_id}/preview",
                                    tokens["operator"])
        assert status == 200, doc
        return doc if doc["by_channel"] == {"push": 6, "lobby_banner": 1} else None

    doc = await wait_for(preview, timeout=60, what="the preview of the dry run (from PostgreSQL)")
    assert doc["audience"] == 6 and doc["reason"] == "approval_required_when_live" and doc["refused"] == {}
    assert len(doc["sample"]) == 5 and all("***" in p for p in doc["sample"])
    status, log, _ = await call(http, "GET", f"{admin.url}/v1/campaigns/rules/{rule.rule_id}/log", tokens["operator"])
    assert status == 200 and {e["kind"] for e in log} == {"fire", "dry_run"}
    assert not any("player_id" in e["entry"] for e in log)  # masked in the API
    await asyncio.sleep(2)
    assert not [r for r in await received(base) if r["body"]["rule_id"] == str(rule.rule_id)]
    assert not [e for e in await campaign_log(settings) if e["kind"] == "delivery" and e["rule_id"] == str(rule.rule_id)]


async def test_a_fire_over_the_approval_threshold_waits_for_a_manager(settings, receiver, engine, admin, http, tokens):
    base, _ = receiver
    rule, _ = await _hot_jackpot_with(settings, lambda jp: _api_rule(
        admin, http, tokens["operator"], jp, dry_run=False, actions=[{"channel": "push", "template": "p"}]))
    fired = await wait_for(lambda: _fires(settings, rule), timeout=90, what="the rule's fire in the log")
    assert fired[0]["status"] == "awaiting_approval" and fired[0]["audience"] == 6
    await asyncio.sleep(2)
    assert not [r for r in await received(base) if r["body"]["rule_id"] == str(rule.rule_id)]
    # the approval is a manager's, never the author's, and goes out with the rule
    approve = f"{admin.url}/v1/campaigns/rules/{rule.rule_id}/versions/1/approve"
    status, doc, _ = await call(http, "POST", approve, tokens["operator"])
    assert status == 403 and doc["type"].endswith("/forbidden")
    author_as_manager = await admin.token("manager", ["brand-royal"], actor="operator-campaigns")
    status, doc, _ = await call(http, "POST", approve, author_as_manager)
    assert status == 403 and doc["type"].endswith("/four-eyes")
    status, doc, _ = await call(http, "POST", approve, tokens["manager"])
    assert status == 200 and doc["approved_versions"] == [1]

    async def on_topic():
        entries = [orjson.loads(m.value) for m in await read_topic(settings, settings.topic("campaign-rules"),
                                                                   str(rule.rule_id).encode()) if m.value]
        return entries if entries and entries[-1]["approved_versions"] == [1] else None

    await wait_for(on_topic, timeout=30, what="the approval on the rules topic")


async def test_the_kill_switch_stops_every_fire_and_delivery(settings, receiver, engine, admin, http, tokens):
    base, _ = receiver
    url = f"{admin.url}/v1/campaigns/kill-switch"
    status, doc, _ = await call(http, "PUT", url, tokens["operator"], json_body={"on": True, "reason": "brand token"})
    assert status == 403 and doc["type"].endswith("/brand-scope")  # it stops every brand's campaigns
    status, doc, _ = await call(http, "PUT", url, tokens["operator-all"], json_body={"on": True, "reason": "incident"})
    assert status == 200 and doc["on"] and doc["set_by"] == "operator-campaigns"
    await asyncio.sleep(1.5)  # the campaigns process follows the control topic within a second
    try:
        rule, _ = await _hot_jackpot_with(settings, on_fire_rule, approved=[1])
        fired = await wait_for(lambda: _fires(settings, rule), timeout=90, what="the rule's fire in the log")
        assert fired[0]["status"] == "killed"
        await asyncio.sleep(2)
        assert not [r for r in await received(base) if r["body"]["rule_id"] == str(rule.rule_id)]
        status, doc, _ = await call(http, "PUT", url, tokens["operator-all"], json_body={"on": False, "reason": "all clear"})
        assert status == 403 and doc["type"].endswith("/forbidden")  # lifting it is a manager's
    finally:
        status, doc, _ = await call(http, "PUT", url, tokens["manager-all"], json_body={"on": False, "reason": "over"})
        assert status == 200 and not doc["on"]


async def _fires(settings, rule):
    return [e for e in await campaign_log(settings) if e["kind"] == "fire" and e["rule_id"] == str(rule.rule_id)] or None


async def test_sigkill_mid_campaign_delivers_every_action_exactly_once(settings, receiver, engine, spawn):
    """Sixty pushes, the receiver refusing the first ones for a while (so deliveries are being
    retried), and the campaigns process SIGKILLed as the first push lands: after its restart the
    receiver holds exactly one push per player, none missing, whatever was sent twice."""
    base, _ = receiver
    _, campaigns, web, env = engine
    run = uuid.uuid4().hex[:6]
    players = [f"{run}-k{i:02d}" for i in range(60)]
    await produce_player_events(settings, "player-profiles", [profile(p) for p in players])
    config = hot_config()
    rule = on_fire_rule(config["jackpot_id"], actions=[{"channel": "push", "template": "p"}])
    await publish_rule(settings, rule, [1])
    await publish_configs(settings, [config])
    await asyncio.sleep(2)
    await produce_bets(settings, [bet(p, config, "10") for p in players])  # 1.2 EUR each: 82 EUR, below any warn
    await asyncio.sleep(3)  # every player's first bet applied: all sixty are active when it goes On Fire
    async with aiohttp.ClientSession() as http:
        await http.post(f"{base}/_control/fail", json={"status": 503, "times": 40, "retry_after": 0.5})
    for _ in range(2):
        await produce_bets(settings, [bet(p, config, "10") for p in players])

    def pushes(got):
        return [r for r in got if r["path"] == "/push" and r["body"]["rule_id"] == str(rule.rule_id)]

    await wait_for(lambda: _len_at_least(received(base), pushes, 1), timeout=90, interval=0.05, what="a first push")
    campaigns.kill()  # SIGKILL
    before = len(pushes(await received(base)))
    restarted = spawn("campaigns-restarted", "campaigns", **env)
    await http_ready(f"http://127.0.0.1:{web}/ready", procs=[restarted])
    try:
        got = await wait_for(lambda: _len_at_least(received(base), pushes, 60), timeout=120, what="sixty pushes")
    except AssertionError:
        from collections import Counter
        log = [e for e in await campaign_log(settings) if e.get("rule_id") == str(rule.rule_id)]
        print("FIRES", [e for e in log if e["kind"] == "fire"])
        print("DECISIONS", Counter((e["kind"], tuple(e.get("channels") or ()), e.get("reason"), e.get("status")) for e in log))
        print("GOT", len(pushes(await received(base))), "before", before)
        raise
    await asyncio.sleep(3)
    got = pushes(await received(base))
    assert sorted(r["body"]["player_id"] for r in got) == sorted(players), f"{before} before the kill"
    assert len({r["key"] for r in got}) == 60
    assert before < 60, "the kill came after the campaign: nothing was tested"


async def test_a_deadline_rule_fires_minutes_before_a_time_drop_deadline(settings, receiver, engine):
    """A daily time-drop jackpot closing three minutes from now, and a rule two minutes before
    its deadline: the campaigns clock fires it once, for the players active on it."""
    base, _ = receiver
    now = dt.datetime.now(dt.timezone.utc)
    if (now + dt.timedelta(minutes=15)).date() != now.date():
        pytest.skip("today's window would end past midnight UTC: run again in a quarter of an hour")
    close = (now + dt.timedelta(minutes=3)).time().replace(microsecond=0)
    config = hot_config()
    config.update(drop_mode="time_drop", schedule={"timezone": "UTC", "recurrence": "daily",
                                                   "open_time": "00:00:00", "close_time": close.isoformat()})
    run = uuid.uuid4().hex[:6]
    players = [f"{run}-d{i}" for i in range(3)]
    await produce_player_events(settings, "player-profiles", [profile(p) for p in players])
    rule = on_fire_rule(config["jackpot_id"], trigger={"kind": "deadline", "minutes_before": 2},
                        actions=[{"channel": "push", "template": "two minutes left"}])
    await publish_rule(settings, rule)
    await publish_configs(settings, [config])
    await asyncio.sleep(2)
    await produce_bets(settings, [bet(p, config, "10") for p in players])  # 3.6 EUR: far from any threshold
    fired = await wait_for(lambda: _fires(settings, rule), timeout=240, what="the deadline rule's fire")
    assert [(f["signal"], f["status"], f["audience"]) for f in fired] == [("deadline", "send", 3)]
    assert fired[0]["event_at_ms"] >= int((dt.datetime.combine(now.date(), close, dt.timezone.utc)
                                           - dt.timedelta(minutes=2)).timestamp() * 1000)

    def pushes(got):
        return [r for r in got if r["body"]["rule_id"] == str(rule.rule_id)]

    got = await wait_for(lambda: _len_at_least(received(base), pushes, 3), timeout=60, what="three pushes")
    assert sorted(r["body"]["player_id"] for r in got) == sorted(players)
    await asyncio.sleep(TICK_WAIT_S)  # later ticks cross nothing: still one fire
    assert len(await _fires(settings, rule)) == 1


TICK_WAIT_S = 25


async def test_a_burst_of_fires_reaches_each_player_once_within_the_cooldown(settings, receiver, engine):
    """Three jackpots go On Fire at once for the same four players, under one rule: each player
    gets one push (an hour between two executions reaching a player), and the log says why the
    other candidates were refused."""
    base, _ = receiver
    run = uuid.uuid4().hex[:6]
    players = [f"{run}-b{i}" for i in range(4)]
    await produce_player_events(settings, "player-profiles", [profile(p) for p in players])
    configs = [hot_config() for _ in range(3)]
    rule = on_fire_rule(configs[0]["jackpot_id"], jackpot_ids=[c["jackpot_id"] for c in configs],
                        actions=[{"channel": "push", "template": "p"}])
    await publish_rule(settings, rule)
    await publish_configs(settings, configs)
    await asyncio.sleep(2)
    # every player bets on every jackpot once (58 EUR each), then the three climb together
    await produce_bets(settings, [bet(p, c) for p in players for c in configs])
    await asyncio.sleep(3)
    for _ in range(4):  # 4 x 48 EUR more: past every target, so the three fires come within seconds
        await produce_bets(settings, [bet(p, c) for p in players for c in configs])

    async def three_fires():
        fires = await _fires(settings, rule) or []
        return fires if len(fires) == 3 else None

    fires = await wait_for(three_fires, timeout=120, what="three fires of the rule")
    assert {f["jackpot_id"] for f in fires} == {c["jackpot_id"] for c in configs}

    async def decided():
        entries = [e for e in await campaign_log(settings) if e["kind"] == "decision" and e["rule_id"] == str(rule.rule_id)]
        return entries if len(entries) == 12 else None

    decisions = await wait_for(decided, timeout=60, what="a decision per player per fire")
    sent = sorted(e["player_id"] for e in decisions if e["channels"] == ["push"])
    assert sent == sorted(players)
    assert sorted(e["reason"] for e in decisions if not e["channels"]) == ["player_cooldown"] * 8
    await asyncio.sleep(3)
    got = [r for r in await received(base) if r["body"]["rule_id"] == str(rule.rule_id)]
    assert sorted(r["body"]["player_id"] for r in got) == sorted(players)


async def test_the_kill_switch_stops_deliveries_being_retried_within_a_second(settings, receiver, engine, admin, http,
                                                                             tokens):
    """Pushes admitted and being retried (the receiver refuses them): the kill switch thrown
    through the admin API stops them all, and nothing reaches the receiver once it answers again."""
    base, _ = receiver
    async with aiohttp.ClientSession() as session:
        await session.post(f"{base}/_control/fail", json={"status": 503, "times": 100_000, "retry_after": 0.2})
        url = f"{admin.url}/v1/campaigns/kill-switch"
        try:
            rule, players = await _hot_jackpot_with(settings, on_fire_rule, approved=[1])

            async def admitted():
                entries = [e for e in await campaign_log(settings) if e["kind"] == "decision"
                           and e["rule_id"] == str(rule.rule_id) and e["channels"]]
                return entries if len(entries) == 6 else None

            await wait_for(admitted, timeout=90, what="six pushes admitted")
            await asyncio.sleep(1)  # being retried
            status, doc, _ = await call(http, "PUT", url, tokens["operator-all"], json_body={"on": True, "reason": "stop"})
            assert status == 200 and doc["in_effect"], doc
            await asyncio.sleep(1.0)  # within a second every retry has stopped ...
            await session.post(f"{base}/_control/fail", json={"status": 503, "times": 0})
            await asyncio.sleep(3)  # ... so the receiver, answering again, gets nothing
            assert not [r for r in await received(base) if r["body"]["rule_id"] == str(rule.rule_id)]

            async def stopped():
                entries = [e for e in await campaign_log(settings) if e["kind"] == "delivery"
                           and e["rule_id"] == str(rule.rule_id) and e["channel"] == "push"]
                return entries if len(entries) == 6 else None

            entries = await wait_for(stopped, timeout=30, what="six pushes logged as killed")
            assert {e["status"] for e in entries} == {"killed"}
        finally:
            await session.post(f"{base}/_control/fail", json={"status": 503, "times": 0})
            status, doc, _ = await call(http, "PUT", url, tokens["manager-all"], json_body={"on": False, "reason": "over"})
            assert status == 200
