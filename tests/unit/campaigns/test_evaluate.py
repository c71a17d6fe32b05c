"""The jackpot stage: crossings against the stored previous signal, rule cooldowns, and an event
handled once across a replay."""

from __future__ import annotations

import uuid
from decimal import Decimal

from jackpot.campaigns.evaluate import KEEP_HANDLED_MS, JackpotCampaignState, on_signal
from jackpot.campaigns.plan import Member
from jackpot.campaigns.rules import Channel, Limits, Rule
from jackpot.campaigns.signals import from_event

JP = "jp-1"
T0 = 1_796_522_400_000
AUDIENCE = [Member("p1", consent=frozenset({Channel.PUSH}))]


def threshold_rule(**kw) -> Rule:
    base = dict(rule_id=uuid.UUID(int=7), version=1, name="Grand passed 5,000", dry_run=False,
                trigger={"kind": "pool_threshold", "amount": 5_000_000_000, "currency": "EUR"},
                conditions={"cooldown_s": 3600}, actions=[{"channel": "push", "template": "p"}])
    return Rule.model_validate(base | kw)


def pool(units: str, at: int, event: str):
    return from_event("PoolUpdated", {"event_id": event, "jackpot_id": JP, "timestamp": at, "level_id": "grand",
                                      "currency": "EUR", "visible_amount": Decimal(units)})


def run(state, signal, rule=None):
    return on_signal(state, signal, [(rule or threshold_rule(), False)], AUDIENCE, {}, Limits(), kill_switch=False)


def test_a_crossing_fires_once_against_the_stored_previous_and_a_replay_is_skipped():
    state, plans = run(JackpotCampaignState(), pool("4999", T0, "e1"))
    assert plans == []  # nothing before it: no crossing known
    state, plans = run(state, pool("5001", T0 + 1000, "e2"))
    assert [p.status for _, p in plans] == ["send"] and state.last_fired == {str(uuid.UUID(int=7)): T0 + 1000}
    replayed, again = run(state, pool("5001", T0 + 1000, "e2"))
    assert again == [] and replayed is state
    state, plans = run(state, pool("5100", T0 + 2000, "e3"))
    assert plans == []  # already above: no crossing


def test_the_state_before_an_event_plans_it_the_same_way_again():
    before, _ = run(JackpotCampaignState(), pool("4999", T0, "e1"))
    restored = JackpotCampaignState.from_json(before.to_json())
    assert restored == before
    _, first = run(before, pool("5001", T0 + 1000, "e2"))
    _, second = run(restored, pool("5001", T0 + 1000, "e2"))
    assert [a.action_id for _, p in first for a in p.actions] == [a.action_id for _, p in second for a in p.actions]


def test_the_rule_cooldown_holds_across_crossings_and_old_events_are_forgotten():
    state, _ = run(JackpotCampaignState(), pool("4999", T0, "e1"))
    state, plans = run(state, pool("5001", T0 + 1000, "e2"))
    state, _ = run(state, pool("4000", T0 + 2000, "e3"))  # a drop and a new cycle
    state, plans = run(state, pool("5002", T0 + 3000, "e4"))
    assert [(p.status, p.reason) for _, p in plans] == []  # not fired: the cooldown (not_fired plans are left out)
    state, plans = run(state, pool("3000", T0 + 2 * 3600_000, "e5"))
    state, plans = run(state, pool("5003", T0 + 2 * 3600_000 + 1, "e6"))
    assert [p.status for _, p in plans] == ["send"]
    state, _ = run(state, pool("1", T0 + KEEP_HANDLED_MS + 3 * 3600_000, "e7"))
    assert set(state.handled) == {"e7"}


def test_a_late_event_does_not_move_the_baseline_back():
    state, _ = run(JackpotCampaignState(), pool("5001", T0 + 5000, "e2"))
    state, _ = run(state, pool("4999", T0, "e1"))  # arrives late
    assert state.previous["pool|grand|EUR"].amount == 5_001_000_000
