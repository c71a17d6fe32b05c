"""A rule's fire: trigger, conditions, audience and the mandatory safety checks, and the
deterministic action ids that make a replayed event send nothing twice."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from jackpot.campaigns.contacts import DAY_MS, Contact, record, refusal
from jackpot.campaigns.plan import Member, plan_fire, plan_fires, trigger_fires
from jackpot.campaigns.rules import Channel, Limits, Rule
from jackpot.campaigns.signals import Signal, deadline_signal, from_event, velocity_signal

JP = "5356e952-77ed-58fa-86f5-166d768b291a"
RULE_ID = uuid.UUID("0b6c3f7e-6d3a-4a8e-9d6b-2f5f4c1e7a10")
# Sunday 6 December 2026, 02:00 UTC: "at 2am on a Sunday"
NOW = int(datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc).timestamp() * 1000)
LIMITS = Limits()


def on_fire_rule(**kw) -> Rule:
    base = dict(rule_id=RULE_ID, version=1, name="On Fire", dry_run=False,
                trigger={"kind": "warn_state", "to": ["on_fire"]},
                actions=[{"channel": "push", "template": "Grand is On Fire"},
                         {"channel": "lobby_banner", "template": "grand-on-fire"}])
    return Rule.model_validate(base | kw)


def warn(state: str = "on_fire", amount: int = 9_000_000_000, event_id: str = "ev-1", at: int = NOW,
         level: str = "grand") -> Signal:
    return from_event("WarnStateChanged", {"event_id": event_id, "jackpot_id": JP, "timestamp": at, "level_id": level,
                                           "currency": "EUR", "new_state": state, "current_amount": amount + 7,
                                           "visible_amount": amount})


def players(n: int, **kw) -> list[Member]:
    return [Member(f"player-{i:04d}", consent=frozenset({Channel.PUSH, Channel.EMAIL}), **kw) for i in range(n)]


def fire(rule: Rule, signal: Signal | None = None, audience=(), contacts=None, previous=None, *,
         limits: Limits = LIMITS, last_fired_ms=None, kill_switch=False, approved=False, jackpot_brands=None):
    return plan_fire(rule, signal or warn(), previous, audience, contacts or {}, limits,
                     last_fired_ms=last_fired_ms, kill_switch=kill_switch, approved=approved, jackpot_brands=jackpot_brands)


def test_on_fire_sends_one_push_per_consenting_player_and_one_banner():
    audience = players(3) + [Member("opted-out-1", consent=frozenset({Channel.PUSH}), opted_out=True),
                             Member("no-consent-1", consent=frozenset({Channel.EMAIL}))]
    plan = fire(on_fire_rule(), audience=audience)
    assert plan.status == "send" and plan.sends
    pushes = [a for a in plan.actions if a.channel is Channel.PUSH]
    assert sorted(a.player_id for a in pushes) == ["player-0000", "player-0001", "player-0002"]
    assert [a.player_id for a in plan.actions if a.channel is Channel.LOBBY_BANNER] == [None]
    assert plan.skipped == {"opted_out": 1, "no_consent": 1}
    assert plan.audience == 3 and len(plan.contacted) == 3


def test_the_same_event_gives_the_same_ids_and_another_event_or_version_other_ids():
    audience = players(2)
    first, again = fire(on_fire_rule(), audience=audience), fire(on_fire_rule(), audience=list(reversed(audience)))
    assert [a.action_id for a in first.actions] == [a.action_id for a in again.actions]
    assert len({a.action_id for a in first.actions}) == len(first.actions)
    other = fire(on_fire_rule(), warn(event_id="ev-2"), audience=audience)
    edited = fire(on_fire_rule(version=2), audience=audience, approved=True)
    assert not {a.action_id for a in first.actions} & {a.action_id for a in other.actions}
    assert not {a.action_id for a in first.actions} & {a.action_id for a in edited.actions}


def test_the_kill_switch_stops_every_fire_and_reports_only_fires():
    plan = fire(on_fire_rule(), audience=players(5), kill_switch=True)
    assert plan.status == "killed" and plan.actions == [] and plan.fire_id is not None
    # a rule that would not have fired is not reported as killed (the log would flood otherwise)
    assert fire(on_fire_rule(enabled=False), audience=players(5), kill_switch=True).status == "not_fired"


def test_a_dry_run_reports_the_audience_and_sample_and_sends_nothing():
    plan = fire(on_fire_rule(dry_run=True), audience=players(8), limits=Limits(approval_threshold=5))
    assert plan.status == "dry_run" and not plan.sends
    report = plan.report(sample=3)
    assert report["audience"] == 8 and report["by_channel"] == {"push": 8, "lobby_banner": 1}
    assert report["sample"] == ["pl***00", "pl***01", "pl***02"]  # masked
    assert report["reason"] == "approval_required_when_live"


def test_a_rule_over_the_approval_threshold_waits_for_the_approval_of_its_version():
    limits = Limits(approval_threshold=5)
    waiting = fire(on_fire_rule(), audience=players(6), limits=limits)
    assert waiting.status == "awaiting_approval" and waiting.actions == [] and waiting.audience == 6
    assert fire(on_fire_rule(), audience=players(5), limits=limits).status == "send"
    approved = fire(on_fire_rule(), audience=players(6), limits=limits, approved=True)
    assert approved.status == "send" and len(approved.actions) == 7


def test_at_most_three_pushes_a_day_and_an_hour_between_two_executions_per_player():
    limits = Limits()
    c = Contact()
    for k in range(3):
        at = NOW - 20 * 3600 * 1000 + k * 2 * 3600 * 1000
        assert refusal(c, {Channel.PUSH}, at, limits) is None
        c = record(c, {Channel.PUSH}, at)
    assert refusal(c, {Channel.PUSH}, NOW, limits) == "push_limit"
    assert refusal(c, {Channel.EMAIL}, NOW, limits) is None  # email is not capped, the cooldown passed
    assert refusal(c, {Channel.EMAIL}, c.last_ms + 3599_000, limits) == "player_cooldown"
    assert refusal(c, {Channel.PUSH}, c.pushes[0] + DAY_MS, limits) is None  # the first push left the day
    assert Contact.from_json(c.to_json()) == c


def test_a_capped_player_still_gets_other_channels_and_a_cooling_one_gets_nothing():
    rule = on_fire_rule(actions=[{"channel": "push", "template": "p"}, {"channel": "email", "template": "e"}])
    capped = Contact(pushes=(NOW - 3 * 3600_000, NOW - 5 * 3600_000, NOW - 7 * 3600_000), last_ms=NOW - 3 * 3600_000)
    cooling = Contact(last_ms=NOW - 600_000)
    plan = fire(rule, audience=players(3), contacts={"player-0000": capped, "player-0001": cooling})
    got = {(a.player_id, a.channel.value) for a in plan.actions}
    assert got == {("player-0000", "email"), ("player-0002", "push"), ("player-0002", "email")}
    assert plan.skipped == {"push_limit": 1, "player_cooldown": 1}


def test_conditions_brand_segment_time_window_day_min_pool_and_rule_cooldown():
    audience = [Member("vip-1", brand="b1", segments=frozenset({"vip"}), consent=frozenset({Channel.PUSH})),
                Member("reg-1", brand="b1", segments=frozenset({"regular"}), consent=frozenset({Channel.PUSH})),
                Member("vip-2", brand="b2", segments=frozenset({"vip"}), consent=frozenset({Channel.PUSH}))]
    rule = on_fire_rule(conditions={"brands": ["b1"], "segments": ["vip"]})
    plan = fire(rule, audience=audience)
    assert [a.player_id for a in plan.actions if a.player_id] == ["vip-1"]
    assert plan.skipped == {"segment": 1, "brand": 1}
    # 02:00 UTC on a Sunday is 03:00 in Berlin
    night = on_fire_rule(conditions={"timezone": "Europe/Berlin", "window_start": "22:00", "window_end": "04:00"})
    assert fire(night).status == "send"
    day = on_fire_rule(conditions={"timezone": "Europe/Berlin", "window_start": "09:00", "window_end": "21:00"})
    assert fire(day).reason == "time_window"
    assert fire(on_fire_rule(conditions={"days": [1, 2, 3, 4, 5]})).reason == "day_of_week"
    assert fire(on_fire_rule(conditions={"min_pool": 10_000_000_000, "min_pool_currency": "EUR"})).reason == "min_pool"
    assert fire(on_fire_rule(conditions={"min_pool": 9_000_000_000, "min_pool_currency": "EUR"})).status == "send"
    assert fire(on_fire_rule(conditions={"min_pool": 1, "min_pool_currency": "JPY"})).reason == "min_pool"  # other currency
    cool = on_fire_rule(conditions={"cooldown_s": 1800})
    assert fire(cool, last_fired_ms=NOW - 1799_000).reason == "rule_cooldown"
    assert fire(cool, last_fired_ms=NOW - 1800_000).status == "send"


def test_a_disabled_rule_or_another_jackpot_or_state_does_not_fire():
    assert fire(on_fire_rule(enabled=False)).reason == "disabled"
    assert fire(on_fire_rule(jackpot_ids=["another"])).reason == "trigger"
    assert fire(on_fire_rule(), warn("heating")).reason == "trigger"


def pool(amount: int) -> Signal:
    """The visible amount is what counts: the hidden part (here 1,000 units more) never does."""
    return from_event("PoolUpdated", {"event_id": f"p{amount}", "jackpot_id": JP, "timestamp": NOW, "level_id": "grand",
                                      "currency": "EUR", "visible_amount": Decimal(amount) / 10**6,
                                      "current_amount": Decimal(amount + 1_000_000_000) / 10**6})


@pytest.mark.parametrize("before, now, fires", [(4_999_000_000, 5_000_000_000, True), (5_000_000_000, 5_100_000_000, False),
                                                (4_000_000_000, 4_999_999_999, False), (None, 6_000_000_000, False)])
def test_a_pool_threshold_fires_on_the_crossing_only(before, now, fires):
    rule = on_fire_rule(trigger={"kind": "pool_threshold", "amount": 5_000_000_000, "currency": "EUR"})
    assert trigger_fires(rule, pool(now), pool(before) if before is not None else None) is fires


def test_deadline_player_count_velocity_won_reseeded_and_lifecycle_triggers():
    deadline = NOW + 30 * 60_000  # a tick every second: the one at exactly 30 minutes before fires
    t = on_fire_rule(trigger={"kind": "deadline", "minutes_before": 30})
    assert trigger_fires(t, deadline_signal(JP, "grand", deadline, NOW), deadline_signal(JP, "grand", deadline, NOW - 1000))
    assert not trigger_fires(t, deadline_signal(JP, "grand", deadline, NOW + 1000), deadline_signal(JP, "grand", deadline, NOW))
    assert not trigger_fires(t, deadline_signal(JP, "grand", deadline, NOW - 1000), deadline_signal(JP, "grand", deadline, NOW - 2000))
    count = on_fire_rule(trigger={"kind": "player_count", "at_least": 100})

    def players_signal(n):
        return from_event("ActivePlayers", {"event_id": f"a{n}", "jackpot_id": JP, "timestamp": NOW, "total": n})
    assert trigger_fires(count, players_signal(100), players_signal(99))
    assert not trigger_fires(count, players_signal(120), players_signal(100))
    rise, fall = (on_fire_rule(trigger={"kind": "velocity", "change_pct": p}) for p in (50, -50))
    calm = velocity_signal(JP, NOW - 60_000, 100, 100)
    assert trigger_fires(rise, velocity_signal(JP, NOW, 100, 150), calm)
    assert not trigger_fires(rise, velocity_signal(JP, NOW, 100, 149), calm)
    assert not trigger_fires(rise, velocity_signal(JP, NOW, 150, 240), velocity_signal(JP, NOW - 60_000, 100, 150))  # still rising: fired already
    assert trigger_fires(fall, velocity_signal(JP, NOW, 100, 50), calm)
    third = on_fire_rule(trigger={"kind": "velocity", "change_pct": -34})
    assert not trigger_fires(third, velocity_signal(JP, NOW, 3, 2), calm)  # -33.3%: not -34%, exactly
    assert velocity_signal(JP, NOW, 0, 10) is None
    won = from_event("JackpotWon", {"event_id": "w", "jackpot_id": JP, "timestamp": datetime.now(timezone.utc),
                                    "win_amount": Decimal("1234.50"), "winner_brand_id": "b1"})
    assert won.amount == 1_234_500_000 and won.brand == "b1"
    assert trigger_fires(on_fire_rule(trigger={"kind": "jackpot_won"}), won, None)
    reseeded = from_event("JackpotReseeded", {"event_id": "r", "jackpot_id": JP, "timestamp": NOW, "new_seed_amount": 10})
    assert trigger_fires(on_fire_rule(trigger={"kind": "jackpot_reseeded"}), reseeded, None)
    paused = from_event("JackpotStateChanged", {"event_id": "s", "jackpot_id": JP, "timestamp": NOW, "new_state": "paused"})
    assert trigger_fires(on_fire_rule(trigger={"kind": "lifecycle", "to": ["paused"]}), paused, None)
    level_paused = from_event("JackpotStateChanged", {"event_id": "s2", "jackpot_id": JP, "timestamp": NOW,
                                                      "level_id": "grand", "new_state": "PAUSED"})
    assert not trigger_fires(on_fire_rule(trigger={"kind": "lifecycle", "to": ["PAUSED"]}), level_paused, None)
    assert trigger_fires(on_fire_rule(trigger={"kind": "lifecycle", "scope": "level", "to": ["PAUSED"]}),
                         level_paused, None)
    assert from_event("PoolApproachingMax", {"event_id": "x", "jackpot_id": JP, "timestamp": NOW}) is None


def test_time_conditions_use_the_event_time_so_a_replay_plans_the_same():
    night = on_fire_rule(conditions={"timezone": "Europe/Berlin", "window_start": "22:00", "window_end": "04:00"})
    late = warn(at=NOW + 2 * 3600_000)  # 05:00 in Berlin
    assert fire(night, late).reason == "time_window"
    assert [a.action_id for a in fire(night, audience=players(2)).actions] == \
        [a.action_id for a in fire(night, audience=players(2)).actions]


def test_levels_and_the_jackpots_brands_gate_the_whole_fire():
    grand_only = on_fire_rule(conditions={"levels": ["grand"]})
    assert fire(grand_only, warn(level="mini")).reason == "level"
    assert fire(grand_only).status == "send"
    b1 = on_fire_rule(conditions={"brands": ["b1"]})
    assert fire(b1, jackpot_brands=frozenset({"b2"})).reason == "brand"  # no banner for another brand's jackpot
    assert fire(b1, jackpot_brands=frozenset({"b1", "b2"})).status == "send"


def test_a_dry_run_uses_no_quota_and_never_shares_ids_with_the_live_rule():
    dry = fire(on_fire_rule(dry_run=True), audience=players(2))
    live = fire(on_fire_rule(), audience=players(2))
    assert dry.contacted == [] and len(live.contacted) == 2
    assert not {a.action_id for a in dry.actions} & {a.action_id for a in live.actions}


def test_two_surface_actions_of_one_channel_get_two_ids_and_a_player_is_counted_once():
    rule = on_fire_rule(actions=[{"channel": "webhook", "template": "x", "target": "https://a.example/h"},
                                 {"channel": "webhook", "template": "x", "target": "https://b.example/h"},
                                 {"channel": "push", "template": "p"}])
    plan = fire(rule, audience=players(1) + players(1), approved=True)
    assert len({a.action_id for a in plan.actions}) == len(plan.actions) == 3
    assert plan.audience == 1


@pytest.mark.parametrize("channel, target", [("homepage_takeover", None), ("social_post", None),
                                             ("webhook", "https://a.example/h"), ("activate_template", "tpl-1")])
def test_a_live_rule_reaching_beyond_its_players_waits_for_approval_whatever_its_audience(channel, target):
    rule = on_fire_rule(actions=[{"channel": channel, "template": "x", "target": target}])
    waiting = fire(rule, audience=players(1))
    assert waiting.status == "awaiting_approval" and waiting.reason == "approval_required" and not waiting.actions
    assert fire(rule, audience=players(1), approved=True).status == "send"
    # a lobby banner shows only on pages that follow the jackpot: no approval below the threshold
    assert fire(on_fire_rule(actions=[{"channel": "lobby_banner", "template": "x"}]), audience=players(1)).status == "send"


def test_rules_firing_on_one_event_never_reach_a_player_twice_within_the_cooldown():
    first = on_fire_rule(rule_id=uuid.UUID(int=1))
    second = on_fire_rule(rule_id=uuid.UUID(int=2), actions=[{"channel": "email", "template": "e"}])
    plans = plan_fires([(second, False, None), (first, False, None)], warn(), None, players(2), {}, LIMITS,
                       kill_switch=False)
    assert [r.rule_id for r, _ in plans] == [first.rule_id, second.rule_id]
    assert len([a for a in plans[0][1].actions if a.player_id]) == 2
    assert plans[1][1].actions == [] and plans[1][1].skipped == {"player_cooldown": 2}


def test_a_crm_tag_neither_waits_for_nor_starts_the_player_cooldown():
    tag = on_fire_rule(rule_id=uuid.UUID(int=1), actions=[{"channel": "crm_tag", "template": "t", "target": "on-fire"}])
    push = on_fire_rule(rule_id=uuid.UUID(int=2))
    plans = plan_fires([(tag, False, None), (push, False, None)], warn(), None, players(1), {}, LIMITS, kill_switch=False)
    assert [len([a for a in p.actions if a.player_id]) for _, p in plans] == [1, 1]
    assert refusal(Contact(last_ms=NOW - 60_000), {Channel.CRM_TAG}, NOW, LIMITS) is None
    assert record(Contact(last_ms=5), {Channel.CRM_TAG}, NOW).last_ms == 5


def test_a_player_listed_twice_keeps_the_stricter_view_and_opted_out_players_get_no_tag():
    tag_and_push = on_fire_rule(actions=[{"channel": "push", "template": "p"},
                                         {"channel": "crm_tag", "template": "t", "target": "on-fire"}])
    consenting = Member("p1", consent=frozenset({Channel.PUSH}))
    for audience in ([consenting, Member("p1", opted_out=True)], [Member("p1", opted_out=True), consenting]):
        plan = fire(tag_and_push, audience=audience)
        assert [a for a in plan.actions if a.player_id] == [] and plan.skipped == {"opted_out": 1}


def test_no_rule_cooldown_means_late_events_fire_and_no_contacts_means_no_player_refusals():
    won = on_fire_rule(trigger={"kind": "jackpot_won"})
    later = from_event("JackpotWon", {"event_id": "w2", "jackpot_id": JP, "timestamp": NOW - 5000, "win_amount": 1})
    assert fire(won, later, last_fired_ms=NOW).status == "send"  # a win read after a later one still fires
    capped = {"player-0000": Contact(pushes=(NOW - 1, NOW - 2, NOW - 3), last_ms=NOW - 1)}
    assert len(plan_fire(on_fire_rule(), warn(), None, players(1), None, LIMITS, last_fired_ms=None,
                         kill_switch=False, approved=False).actions) == 2
    assert len(fire(on_fire_rule(), audience=players(1), contacts=capped).actions) == 1  # the banner only
