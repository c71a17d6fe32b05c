"""Campaign rules are validated where the operator writes them: a bad rule is refused with the
reason, never stored to misfire later."""

from __future__ import annotations

import uuid
from datetime import time

import pytest
from pydantic import ValidationError

from jackpot.campaigns.rules import Action, Channel, Conditions, Rule, WarnStateTrigger


def rule(**kw) -> Rule:
    base = dict(rule_id=uuid.uuid4(), version=1, name="On Fire push", trigger={"kind": "warn_state", "to": ["on_fire"]},
                actions=[{"channel": "push", "template": "The {level_name} is On Fire!"}])
    return Rule.model_validate(base | kw)


def test_a_rule_reads_its_trigger_by_kind_and_starts_as_a_dry_run():
    r = rule()
    assert isinstance(r.trigger, WarnStateTrigger) and r.trigger.to == {"on_fire"}
    assert r.dry_run


def test_an_approval_cannot_be_written_into_the_rule():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        rule(approved_version=1)


@pytest.mark.parametrize("bad, why", [
    ({"trigger": {"kind": "warn_state", "to": ["burning"]}}, "unknown warn states"),
    ({"trigger": {"kind": "pool_threshold", "amount": 0, "currency": "EUR"}}, "greater than 0"),
    ({"trigger": {"kind": "velocity", "change_pct": 0}}, "non-zero change"),
    ({"trigger": {"kind": "sunrise"}}, "does not match any of the expected tags"),
    ({"actions": []}, "at least 1 item"),
    ({"actions": [{"channel": "webhook", "template": "x"}]}, "needs a target"),
    ({"actions": [{"channel": "fax", "template": "x"}]}, "Input should be"),
    ({"conditions": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
    ({"conditions": {"days": [0, 8]}}, "ISO weekdays"),
    ({"conditions": {"window_start": "22:00"}}, "needs both"),
    ({"conditions": {"window_start": "10:00", "window_end": "10:00"}}, "never fires"),
    ({"surprise": True}, "Extra inputs are not permitted"),
    ({"trigger": {"kind": "warn_state", "to": ["calm"]}}, "unknown warn states"),
    ({"trigger": {"kind": "pool_threshold", "amount": 5000.0, "currency": "EUR"}}, "valid integer"),
    ({"trigger": {"kind": "pool_threshold", "amount": True, "currency": "EUR"}}, "valid integer"),
    ({"trigger": {"kind": "pool_threshold", "amount": "5000", "currency": "EUR"}}, "valid integer"),
    ({"trigger": {"kind": "pool_threshold", "amount": 5, "currency": "E1"}}, "three-letter code"),
    ({"conditions": {"timezone": "America"}}, "unknown time zone"),
    ({"conditions": {"window_start": "22:00+02:00", "window_end": "02:00"}}, "without an offset"),
    ({"conditions": {"min_pool": 5_000_000}}, "go together"),
    ({"trigger": {"kind": "deadline", "minutes_before": 30},
      "conditions": {"min_pool": 5_000_000, "min_pool_currency": "EUR"}}, "min_pool needs a trigger"),
    ({"actions": [{"channel": "push", "template": "a"}, {"channel": "push", "template": "b"}]}, "each player channel once"),
    ({"actions": [{"channel": "webhook", "template": "x", "target": "http://10.0.0.1/hook"}]}, "https://"),
    ({"jackpot_ids": []}, "at least 1 item"),
    ({"trigger": {"kind": "lifecycle", "to": ["sleeping"]}}, "unknown jackpot states"),
    ({"trigger": {"kind": "lifecycle", "scope": "level", "to": ["ACTIVE"]}}, "unknown level states"),
    # what travels as a 64-bit integer is refused beyond it (else the publication fails later)
    ({"trigger": {"kind": "pool_threshold", "amount": 10**30, "currency": "EUR"}}, "less than or equal to"),
    ({"trigger": {"kind": "player_count", "at_least": 2**63}}, "less than or equal to"),
    ({"conditions": {"cooldown_s": 10**20}}, "less than or equal to"),
    # credentials in a webhook URL would show in every view and log of the rule
    ({"actions": [{"channel": "webhook", "template": "x", "target": "https://u:pw@hooks.partner.example/x"}]},
     "no user or password"),
    ({"actions": [{"channel": "lobby_banner", "template": "x"}] * 21}, "at most 20 items"),
    ({"jackpot_ids": [f"jp-{i}" for i in range(501)]}, "at most 500 items"),
])
def test_a_bad_rule_is_refused_with_its_reason(bad, why):
    with pytest.raises(ValidationError, match=why):
        rule(**bad)


def test_limits_keep_the_mandatory_floor():
    from jackpot.campaigns.rules import Limits
    with pytest.raises(ValidationError, match="greater than or equal to 3600"):
        Limits(player_cooldown_s=0)
    assert Limits(pushes_per_player_day=1).pushes_per_player_day == 1


def test_currencies_are_normalised_and_surfaces_may_repeat():
    r = rule(trigger={"kind": "pool_threshold", "amount": 5, "currency": "eur"},
             actions=[{"channel": "webhook", "template": "x", "target": "https://a.example/hook"},
                      {"channel": "webhook", "template": "x", "target": "https://b.example/hook"}])
    assert r.trigger.currency == "EUR" and len(r.actions) == 2


def test_conditions_and_actions_keep_exact_types():
    c = Conditions(window_start=time(22), window_end=time(2), days=frozenset({6, 7}), min_pool=5_000_000_000,
                   min_pool_currency="EUR")
    assert c.window_start > c.window_end  # spans midnight: allowed
    a = Action(channel=Channel.CRM_TAG, template="tag", target="grand-on-fire")
    assert a.channel is Channel.CRM_TAG
