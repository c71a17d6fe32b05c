"""The jackpot stage: crossings against the previous signal in reading order, rule cooldowns,
inputs handled once across a replay (by position, so a deadline's ticks are each read)."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from jackpot.campaigns.evaluate import JackpotCampaignState, Position, on_signal
from jackpot.campaigns.plan import Member
from jackpot.campaigns.rules import Channel, Limits, Rule
from jackpot.campaigns.signals import deadline_signal, from_event

JP = "jp-1"
T0 = 1_796_522_400_000
AUDIENCE = [Member("p1", consent=frozenset({Channel.PUSH}))]
offsets = itertools.count()


def threshold_rule(**kw) -> Rule:
    base = dict(rule_id=uuid.UUID(int=7), version=1, name="Grand passed 5,000", dry_run=False,
                trigger={"kind": "pool_threshold", "amount": 5_000_000_000, "currency": "EUR"},
                conditions={"cooldown_s": 3600}, actions=[{"channel": "push", "template": "p"}])
    return Rule.model_validate(base | kw)


def pool(units: str, at: int, event: str):
    return from_event("PoolUpdated", {"event_id": event, "jackpot_id": JP, "timestamp": at, "level_id": "grand",
                                      "currency": "EUR", "visible_amount": Decimal(units)})


def run(state, signal, rule=None, offset=None):
    at = Position("pool-updated", 0, next(offsets) if offset is None else offset)
    return on_signal(state, signal, at, [(rule or threshold_rule(), False)], AUDIENCE, Limits(), kill_switch=False)


def statuses(plans):
    return [p.status for _, p in plans]


def test_a_crossing_fires_once_against_the_previous_and_a_replayed_input_is_skipped():
    state, plans = run(JackpotCampaignState(), pool("4999", T0, "e1"), offset=1)
    assert plans == []  # nothing before it: no crossing known
    state, plans = run(state, pool("5001", T0 + 1000, "e2"), offset=2)
    assert statuses(plans) == ["send"] and state.last_fired == {f"{uuid.UUID(int=7)}|live": T0 + 1000}
    replayed, again = run(state, pool("5001", T0 + 1000, "e2"), offset=2)
    assert again == [] and replayed is state
    state, plans = run(state, pool("5100", T0 + 2000, "e3"), offset=3)
    assert plans == []  # already above: no crossing


def test_the_state_before_an_input_plans_it_the_same_way_again():
    before, _ = run(JackpotCampaignState(), pool("4999", T0, "e1"))
    restored = JackpotCampaignState.from_json(before.to_json())
    assert restored == before
    _, first = run(before, pool("5001", T0 + 1000, "e2"), offset=100)
    _, second = run(restored, pool("5001", T0 + 1000, "e2"), offset=100)
    assert [a.action_id for _, p in first for a in p.actions] == [a.action_id for _, p in second for a in p.actions]


def test_events_a_little_out_of_time_order_fire_each_crossing_once():
    rule = threshold_rule(conditions={})  # no cooldown: only the crossing logic decides
    state = JackpotCampaignState()
    fired = []
    for units, at, event in [("4000", 100, "a"), ("5001", 90, "b"), ("5002", 110, "c"),  # late but crossing: once
                             ("1000", 105, "d"), ("5003", 120, "e")]:  # a new cycle read late, then crossing again
        state, plans = run(state, pool(units, T0 + at, event), rule)
        fired += [event for _, p in plans if p.status == "send"]
    assert fired == ["b", "e"]


def test_a_deadline_fires_from_its_ticks_though_they_share_a_cause():
    rule = threshold_rule(trigger={"kind": "deadline", "minutes_before": 30}, conditions={})
    deadline = T0 + 3600_000
    state, fired = JackpotCampaignState(), []
    for minute in range(0, 60, 5):
        tick = deadline_signal(JP, "grand", deadline, T0 + minute * 60_000)
        state, plans = on_signal(state, tick, Position("clock-ticks", 0, minute), [(rule, False)], AUDIENCE, Limits(),
                                 kill_switch=False)
        fired += [minute for _, p in plans if p.status == "send"]
    assert fired == [30]


def test_the_rule_cooldown_holds_across_crossings_and_dry_and_live_keep_their_own():
    state, _ = run(JackpotCampaignState(), pool("4999", T0, "e1"))
    state, plans = run(state, pool("5001", T0 + 1000, "e2"))
    state, _ = run(state, pool("4000", T0 + 2000, "e3"))  # a drop and a new cycle
    state, plans = run(state, pool("5002", T0 + 3000, "e4"))
    assert plans == []  # the cooldown (not_fired plans are left out)
    state, plans = run(state, pool("5003", T0 + 3000, "e5"), threshold_rule(dry_run=True, version=2))
    assert plans == []  # no crossing for the dry run here either: 5002 -> 5003
    state, _ = run(state, pool("3000", T0 + 2 * 3600_000, "e6"))
    state, plans = run(state, pool("5004", T0 + 2 * 3600_000 + 1, "e7"))
    assert statuses(plans) == ["send"]
    dry = threshold_rule(dry_run=True, version=2)
    state, _ = run(state, pool("1", T0 + 2 * 3600_000 + 2, "e8"), dry)
    state, plans = run(state, pool("5005", T0 + 2 * 3600_000 + 3, "e9"), dry)
    assert statuses(plans) == ["dry_run"]  # the live fire just before does not hold the dry run back
